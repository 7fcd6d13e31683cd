"""Prometheus ``/metrics`` on the interface: throughput, failures, lag and the last pass, read from
the database at each scrape, so the figures are right whatever process or machine did the work
(``run --worker`` processes, the scheduler, the web's own runs) and survive restarts.

Throughput counters are sums over the run rows (``runs.counts``, written by every pass as it goes:
one row per pass and worker, never a scan of the per-item tables); counts by stage exist for passes
of this version on. Lag and backlog are gauges from the work queue (``targets``, indexed columns).
Access is the JSON API's: with ``web.tokens`` a scraper sends ``Authorization: Bearer <token>``
(any role); without tokens the interface, and so this page, is on loopback only.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from ..config import Settings
from ..db import work
from ..db.base import utcnow
from ..db.tables import CAPTURED, Run, Target

QUEUE_STAGES = ("resolve", "capture", "extract")
WATCH_STATES = ("alive", "changed", "moved", "dead", "recovered", "error")


def _ts(dt: datetime | None) -> float | None:
    if dt is None:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


class DatabaseCollector:
    """A prometheus_client collector whose every ``collect`` reads the database once."""

    def __init__(self, Session: sessionmaker, settings: Settings):
        self.Session, self.settings = Session, settings

    def describe(self) -> list:
        return []  # nothing to check at registration: the families come from the database

    def collect(self) -> Iterator[Metric]:
        with self.Session() as s:
            yield from _from_runs(s)
            yield from _queue(s, self.settings)


def _from_runs(s) -> Iterator[Metric]:
    items = CounterMetricFamily("archiver_items", "Items done by the pipeline, by stage and outcome "
                                "(failed: retried later or given up)", labels=["stage", "outcome"])
    captured = CounterMetricFamily("archiver_captured_bytes", "Payload bytes captured (targets and requisites)")
    checks = CounterMetricFamily("archiver_watch_checks", "Re-checks of captured links by the state found",
                                 labels=["state"])
    passes = CounterMetricFamily("archiver_passes", "Passes by kind and final status", labels=["kind", "status"])
    notified = CounterMetricFamily("archiver_notify", "Pass summaries sent to notify targets, by result",
                                   labels=["target", "result"])
    running = GaugeMetricFamily("archiver_passes_running", "Passes (and run --worker processes) running now")
    last_end = GaugeMetricFamily("archiver_last_pass_end_timestamp_seconds",
                                 "When the latest finished pass of each kind ended (Unix time)", labels=["kind"])
    last_secs = GaugeMetricFamily("archiver_last_pass_duration_seconds",
                                  "How long the latest finished pass of each kind took", labels=["kind"])
    last_ok = GaugeMetricFamily("archiver_last_pass_success",
                                "1 when the latest finished pass of each kind had no failed item", labels=["kind"])
    by_item: dict[tuple[str, str], float] = {}
    by_state = {state: 0.0 for state in WATCH_STATES}
    by_pass: dict[tuple[str, str], float] = {}
    by_notify: dict[tuple[str, str], float] = {}
    total_bytes, now_running = 0.0, 0
    last: dict[str, tuple] = {}
    rows = s.execute(select(Run.kind, Run.stage, Run.status, Run.counts, Run.started_at, Run.finished_at)
                     .order_by(Run.id).execution_options(yield_per=500))
    for kind, stage, status, counts, started, finished in rows:
        counts = counts or {}
        for st, outcomes in (counts.get("stages") or {}).items():
            for outcome, n in outcomes.items():
                by_item[(st, outcome)] = by_item.get((st, outcome), 0) + n
        total_bytes += counts.get("bytes") or 0
        for state in WATCH_STATES:
            by_state[state] += (counts.get("watch") or {}).get(state) or 0
        for target, sent in (counts.get("notify") or {}).items():
            if isinstance(sent, dict) and "ok" in sent:
                key = (target, "ok" if sent["ok"] else "failed")
                by_notify[key] = by_notify.get(key, 0) + 1
        if status == "running":
            now_running += 1
            continue
        by_pass[(kind, status)] = by_pass.get((kind, status), 0) + 1
        if stage is None and finished is not None:
            last[kind] = (finished, _ts(finished) - _ts(started), status == "ok")
    for (st, outcome), n in sorted(by_item.items()):
        items.add_metric([st, outcome], n)
    captured.add_metric([], total_bytes)
    for state, n in by_state.items():
        checks.add_metric([state], n)
    for key, n in sorted(by_pass.items()):
        passes.add_metric(list(key), n)
    for key, n in sorted(by_notify.items()):
        notified.add_metric(list(key), n)
    running.add_metric([], now_running)
    for kind, (finished, secs, ok) in sorted(last.items()):
        last_end.add_metric([kind], _ts(finished))
        last_secs.add_metric([kind], secs)
        last_ok.add_metric([kind], 1 if ok else 0)
    yield from (items, captured, checks, passes, notified, running, last_end, last_secs, last_ok)


def _queue(s, settings: Settings) -> Iterator[Metric]:
    from datetime import timedelta

    from ..watch import due_query

    now = utcnow()
    due = GaugeMetricFamily("archiver_due_items", "Items waiting for a stage now (watch: links due a re-check)",
                            labels=["stage"])
    lag = GaugeMetricFamily("archiver_oldest_due_age_seconds", "How long the longest-waiting due item has waited "
                            "(since its retry time, else since its link was first seen; watch: since its re-check "
                            "was due); 0 when nothing is due", labels=["stage"])
    for stage in QUEUE_STAGES:
        due.add_metric([stage], work.count_due(s, stage, now))
        oldest = work.oldest_due(s, stage, now)
        lag.add_metric([stage], max(0.0, now.timestamp() - _ts(oldest)) if oldest is not None else 0.0)
    cadence = timedelta(days=settings.watch.recheck_days)
    due.add_metric(["watch"], s.scalar(select(func.count()).select_from(due_query(now, cadence).subquery())) or 0)
    oldest = s.scalar(select(func.min(Target.next_check_at)).where(Target.status == CAPTURED,
                                                                   Target.next_check_at <= now))
    lag.add_metric(["watch"], max(0.0, now.timestamp() - _ts(oldest)) if oldest is not None else 0.0)
    targets = GaugeMetricFamily("archiver_targets", "Links (normalized URLs) by status", labels=["status"])
    for status, n in s.execute(select(Target.status, func.count()).group_by(Target.status)):
        targets.add_metric([status], n)
    given_up = GaugeMetricFamily("archiver_given_up_items", "Failed links no longer retried (see archiver status)")
    given_up.add_metric([], s.scalar(select(func.count()).select_from(Target)
                                     .where(Target.status == "failed", Target.given_up.is_(True))) or 0)
    yield from (due, lag, targets, given_up)


def make_registry(Session: sessionmaker, settings: Settings) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(Session, settings))
    return registry


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


__all__ = ["DatabaseCollector", "make_registry", "render"]
