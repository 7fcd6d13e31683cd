"""What `archiver status` shows of the distributed side: queue depths and the live workers."""
from __future__ import annotations

from ..config import Settings
from ..errors import QueueError

PING_TIMEOUT_S = 1.0


def queue_depths(app, settings: Settings) -> dict[str, int]:
    """Messages waiting in each queue (not those a worker holds unacknowledged)."""
    names = settings.queue.names
    out = {}
    try:
        with app.connection_for_read() as conn:
            channel = conn.default_channel
            for name in names.all():
                try:
                    out[name] = channel.queue_declare(queue=name, durable=True, auto_delete=False).message_count
                except Exception as exc:  # noqa: BLE001 - a queue declared otherwise by someone else
                    raise QueueError(f"queue {name}: {type(exc).__name__}: {exc}") from exc
    except OSError as exc:  # kombu's connection errors are OSErrors
        raise QueueError(f"queue.url: the broker did not answer ({exc})") from exc
    return out


def live_workers(app, settings: Settings, timeout_s: float = PING_TIMEOUT_S) -> list[str]:
    """The workers that answer within ``timeout_s`` and consume at least one of this configuration's queues.

    A broker is often shared (another archiver deployment with its own ``queue.names``, other applications'
    Celery workers): a plain ping would count all of them as this archiver's live workers."""
    ours = set(settings.queue.names.all())
    try:
        replies = app.control.inspect(timeout=timeout_s).active_queues() or {}
    except OSError as exc:
        raise QueueError(f"queue.url: the broker did not answer ({exc})") from exc
    return sorted(name for name, queues in replies.items()
                  if ours & {q.get("name") for q in (queues or []) if isinstance(q, dict)})


def queue_doc(settings: Settings) -> dict:
    """{"url": broker without credentials, "queues": {name: depth}, "workers": [...]} for status."""
    from .app import make_app

    app = make_app(settings)
    try:
        return {"url": settings.redacted()["queue"]["url"], "queues": queue_depths(app, settings),
                "workers": live_workers(app, settings)}
    finally:
        app.close()
