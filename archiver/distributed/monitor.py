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


def live_workers(app, timeout_s: float = PING_TIMEOUT_S) -> list[str]:
    """The names of the workers that answer a ping within ``timeout_s``."""
    try:
        replies = app.control.ping(timeout=timeout_s) or []
    except OSError as exc:
        raise QueueError(f"queue.url: the broker did not answer ({exc})") from exc
    return sorted(name for reply in replies for name in reply)


def queue_doc(settings: Settings) -> dict:
    """{"url": broker without credentials, "queues": {name: depth}, "workers": [...]} for status."""
    from .app import make_app

    app = make_app(settings)
    try:
        return {"url": settings.redacted()["queue"]["url"], "queues": queue_depths(app, settings),
                "workers": live_workers(app)}
    finally:
        app.close()
