"""Tell people what a pass changed: newly lost links, changed pages, evidence recovered from web
archives, failures (notify/digest.py) go to the configured ``notify:`` targets, in this order:

1. ``webhook``: one JSON POST (notify/webhook.py), when ``notify.webhook.url`` is set;
2. ``email``: SMTP (notify/mail.py), when ``notify.email.host`` is set.

Called after each scheduled pass (schedule.py) and by ``archiver run --notify``. Nothing is sent
when no target is configured, nor for a pass that changed nothing unless ``notify.always``.
A target that fails never fails the pass: one warning line in the log, and the outcome of each
target is kept on the run row (``runs.counts['notify']``, shown by ``/metrics``).
"""
from __future__ import annotations

import logging
import time
from typing import Callable, Mapping

from sqlalchemy.orm import sessionmaker

from ..config import Settings
from ..db.base import iso_utc, utcnow
from ..db.tables import Run
from ..errors import NotifyError
from . import digest

log = logging.getLogger(__name__)

TARGETS = ("webhook", "email")


def configured(settings: Settings) -> list[str]:
    """The targets that are set up, in the order they are sent to."""
    n = settings.notify
    return [name for name, on in (("webhook", n.webhook.url), ("email", n.email.host)) if on]


def send_pass(settings: Settings, Session: sessionmaker, run_id: int, *, env: Mapping[str, str] | None = None,
              sleep: Callable[[float], None] = time.sleep) -> dict:
    """Send pass ``run_id``'s summary to every configured target. Never raises (a notification is not
    part of the pass): returns, and records on the run row, what became of each target:
    ``{"webhook": {"ok": true, "tries": 1}, "email": {"ok": false, "tries": 3, "error": "..."}}``,
    or ``{"skipped": "..."}``; ``{}`` when nothing is configured."""
    targets = configured(settings)
    if not targets:
        return {}
    outcome: dict = {}
    try:
        with Session() as s:
            doc = digest.build(s, run_id, max_items=settings.notify.max_items)
    except Exception as exc:  # the database went away after the pass: say so, once
        log.warning("notify: the summary of pass %s could not be read (%s: %s); nothing sent",
                    run_id, type(exc).__name__, exc)
        return {"skipped": f"summary not read: {type(exc).__name__}"}
    if not digest.has_changes(doc) and not settings.notify.always:
        outcome = {"skipped": "the pass changed nothing (notify.always is false)"}
    else:
        for name in targets:
            outcome[name] = _send_one(name, doc, settings, env=env, sleep=sleep)
    _record(Session, run_id, outcome)
    return outcome


def _send_one(name: str, doc: dict, settings: Settings, *, env, sleep) -> dict:
    from . import mail, webhook

    where = webhook.public_origin(settings.notify.webhook.url) if name == "webhook" else \
        f"{settings.notify.email.host}:{settings.notify.email.port}"
    try:
        if name == "webhook":
            tries = webhook.post(doc, settings.notify, settings.fetch, sleep=sleep)
        else:
            tries = mail.send(doc, settings.notify.email, env=env, sleep=sleep)
        log.info("notify: pass %s summary sent by %s to %s", doc["run"]["id"], name, where)
        return {"ok": True, "tries": tries, "at": iso_utc(utcnow())}
    except NotifyError as exc:
        tries = exc.context.get("tries", 1)
        log.warning("notify: %s to %s failed after %d %s: %s (the pass is not affected)",
                    name, where, tries, "try" if tries == 1 else "tries", exc)
        return {"ok": False, "tries": tries, "error": str(exc), "at": iso_utc(utcnow())}
    except Exception as exc:  # a bug here must not cost the pass its exit code either (no traceback:
        # it could quote the webhook's URL)
        text = webhook.scrub(str(exc), settings.notify.webhook.url or "") if name == "webhook" else str(exc)
        log.error("notify: %s to %s failed: %s: %s", name, where, type(exc).__name__, text)
        return {"ok": False, "tries": 1, "error": f"{type(exc).__name__}", "at": iso_utc(utcnow())}


def _record(Session: sessionmaker, run_id: int, outcome: dict) -> None:
    try:
        with Session() as s:
            row = s.get(Run, run_id)
            if row is not None:
                row.counts = {**(row.counts or {}), "notify": outcome}
                s.commit()
    except Exception as exc:
        log.warning("notify: outcome not recorded on run %s (%s: %s)", run_id, type(exc).__name__, exc)


__all__ = ["TARGETS", "configured", "send_pass"]
