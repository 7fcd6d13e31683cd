"""The Celery app, built from ``queue:`` settings (never at import time: no global app).

Delivery is at least once and late: a task is acknowledged when it has run (``acks_late``), a
worker takes one task at a time per thread (prefetch multiplier 1), and a worker that dies
(``kill -9``) has its unacknowledged tasks redelivered to another. Tasks are idempotent
(tasks.py), so a redelivered or doubly enqueued task does nothing twice.
"""
from __future__ import annotations

from ..config import Settings
from ..errors import ConfigError

# the task of each stage (tasks.py registers them under these names; enqueue.py sends by name)
TASK_NAMES = {"resolve": "archiver.resolve", "capture": "archiver.capture", "extract": "archiver.extract",
              "watch": "archiver.watch"}


def _check_broker(url: str) -> None:
    if url.startswith(("redis://", "rediss://")):
        import redis

        if tuple(int(p) for p in redis.__version__.split(".")[:2]) < (6, 1):
            # pywb pins redis 2.10: Celery's Redis transport needs a newer client than can be installed beside it
            raise ConfigError(f"queue.url: a Redis broker needs the redis client 6.1 or later (installed: "
                              f"{redis.__version__}, pinned by pywb); use RabbitMQ (amqp://...) as the broker "
                              "and keep Redis for the host slots (queue.redis_url)")


def make_app(settings: Settings, *, worker: bool = False):
    """The app; with ``worker`` its tasks are registered with what they need to run (tasks.py)."""
    from celery import Celery
    from kombu import Queue

    q = settings.queue
    if not q.url:
        raise ConfigError("queue.url is not set: distributed runs need a broker (e.g. queue.url: "
                          "amqp://guest@127.0.0.1//); `archiver run` without --distributed runs in-process")
    _check_broker(q.url)
    app = Celery("archiver", broker=q.url, set_as_current=False)
    names = q.names
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json", accept_content=["json"],
        task_ignore_result=True, result_backend=None,  # outcomes are in the database
        task_queues=[Queue(n, durable=True) for n in names.all()],
        task_default_queue=names.capture,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        worker_hijack_root_logger=False,
        worker_send_task_events=True,  # Flower and `celery events` see throughput and failures
        task_send_sent_event=True,
        # Redis broker: an unacknowledged task comes back after this long (longer than an item's lease)
        broker_transport_options={"visibility_timeout": 3600},
    )
    if worker:
        from .tasks import register

        register(app, settings)
    return app
