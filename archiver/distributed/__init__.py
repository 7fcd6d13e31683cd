"""Workers on Celery: the pipeline's items as tasks on a broker (RabbitMQ or Redis), for passes
bigger than one machine. The database stays the source of truth; the in-process run (no
``queue.url``) is the default and is unchanged.

  app.py      make_app(settings): the Celery app, its queues and delivery settings
  tasks.py    one task per stage (resolve, capture, extract): one target each, idempotent
  enqueue.py  what `archiver run --distributed` does: enqueue the due work, wait until it is done
  slots.py    per-host slots in Redis: fetch.per_host_concurrency and politeness across all workers
  monitor.py  queue depths and live workers for `archiver status`
"""
