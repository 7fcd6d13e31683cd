"""Per-host slots in Redis: ``fetch.per_host_concurrency`` and ``fetch.politeness_delay_s`` held
across every worker process and machine, not per process.

Each host has a sorted set of the slots in use (member: a random token, score: when it expires)
and a key holding the earliest time the next request may start. One Lua script takes a slot
atomically, on Redis's own clock (so the workers' clocks need not agree): it drops expired slots,
refuses while the host is full or its politeness delay runs, else adds the token. A live
process renews the slots it holds every third of ``queue.slot_ttl_s`` (a heartbeat thread), so a
long download keeps its slot, while a slot whose worker died (``kill -9``, a machine lost) is free
again within ``queue.slot_ttl_s``: the other workers of that host wait seconds, not a night.

The web archives' request rates (``resolver.archives[].requests_per_s``) are held the same way
(:class:`RedisRate`): one key per archive and kind of request holds the earliest time the next one may
start, so N worker processes ask the Internet Archive at its rate together, not N times it.

Works with the redis client pywb pins (2.10) as with current ones: SET/ZADD/EVALSHA only.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Iterator

from ..errors import QueueError

log = logging.getLogger(__name__)

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 20
end
local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
if nxt > now then
  return nxt - now
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
local delay = tonumber(ARGV[4])
if delay > 0 then
  redis.call('SET', KEYS[2], now + delay, 'PX', delay + 1000)
end
return 0
"""

_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
return 0
"""

_RATE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
if nxt > now then
  return nxt - now
end
local interval = tonumber(ARGV[1])
redis.call('SET', KEYS[1], now + interval, 'PX', interval + 1000)
return 0
"""

POLL_MAX_S = 0.05  # a full host is asked again this often


class RedisHostSlots:
    """``with slots.hold(host):`` around one request; blocks until the host has a free slot."""

    def __init__(self, url: str, *, per_host: int, delay_s: float, ttl_s: float, prefix: str = "archiver"):
        import redis

        self._redis = redis.StrictRedis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._renew = self._redis.register_script(_RENEW)
        self._rate = self._redis.register_script(_RATE)
        self.per_host, self.delay_ms, self.ttl_ms = per_host, int(delay_s * 1000), int(ttl_s * 1000)
        self.prefix = prefix
        self._held: dict[str, str] = {}  # token -> host, while held: the heartbeat renews these
        self._lock = threading.Lock()
        self._heartbeat: threading.Thread | None = None

    def rate_for(self, archive: str, kind: str, rate: float) -> RedisRate:
        """A web archive's kind of request held at ``rate`` with every process on this Redis
        (resolve/ratelimit.py ``use_shared``)."""
        return RedisRate(self._rate, f"{self.prefix}:rate:{archive}:{kind}", rate)

    def _keys(self, host: str) -> list[str]:
        return [f"{self.prefix}:slots:{host}", f"{self.prefix}:next:{host}"]

    def acquire(self, host: str) -> str:
        """Take a slot of ``host``; returns its token (for :meth:`release`)."""
        import redis

        token = uuid.uuid4().hex
        keys = self._keys(host)
        while True:
            try:
                wait_ms = int(self._acquire(keys=keys, args=[self.per_host, token, self.ttl_ms, self.delay_ms]))
            except redis.RedisError as exc:
                raise QueueError(f"host slots: Redis did not answer ({type(exc).__name__}: {exc}); "
                                 "check queue.redis_url") from exc
            if wait_ms <= 0:
                with self._lock:
                    self._held[token] = host
                    if self._heartbeat is None:
                        self._heartbeat = threading.Thread(target=self._beat, name="host-slots-heartbeat",
                                                           daemon=True)
                        self._heartbeat.start()
                return token
            time.sleep(min(wait_ms / 1000, POLL_MAX_S))

    def renew(self) -> None:
        """Push back the expiry of every slot this process holds (one released meanwhile stays gone)."""
        with self._lock:
            held = list(self._held.items())
        for token, host in held:
            self._renew(keys=self._keys(host)[:1], args=[token, self.ttl_ms])

    def _beat(self) -> None:
        import redis

        while True:
            time.sleep(self.ttl_ms / 3000)
            try:
                self.renew()
            except redis.RedisError as exc:  # the next beat tries again; the slot may lapse meanwhile
                log.warning("host slots: could not renew (%s)", exc)

    def release(self, host: str, token: str) -> None:
        import redis

        with self._lock:
            self._held.pop(token, None)
        try:
            self._redis.zrem(self._keys(host)[0], token)
        except redis.RedisError:  # the slot expires by itself (slot_ttl_s)
            pass

    @contextmanager
    def hold(self, host: str) -> Iterator[None]:
        token = self.acquire(host)
        try:
            yield
        finally:
            self.release(host, token)


class RedisRate:
    """One web archive's kind of request (cdx, replay) at ``rate`` a second across every process that shares
    the Redis: ``acquire`` blocks until this process may send the next one (the interface of
    resolve/ratelimit.py's TokenBucket)."""

    def __init__(self, script, key: str, rate: float, sleep=time.sleep):
        self._script, self._key, self._sleep = script, key, sleep
        self.rate = float(rate)
        self._interval_ms = max(1, int(round(1000 / self.rate)))

    def acquire(self) -> float:
        """Take the next turn, sleeping as long as needed; returns the seconds waited."""
        import redis

        waited = 0.0
        while True:
            try:
                wait_ms = int(self._script(keys=[self._key], args=[self._interval_ms]))
            except redis.RedisError as exc:
                raise QueueError(f"archive rate: Redis did not answer ({type(exc).__name__}: {exc}); "
                                 "check queue.redis_url") from exc
            if wait_ms <= 0:
                return waited
            self._sleep(wait_ms / 1000)
            waited += wait_ms / 1000


def from_settings(settings) -> RedisHostSlots | None:
    """The shared slots when ``queue`` names a Redis (``redis_url``, or a redis:// broker); else None."""
    q = settings.queue
    if q.slots_url is None:
        return None
    return RedisHostSlots(q.slots_url, per_host=settings.fetch.per_host_concurrency,
                          delay_s=settings.fetch.politeness_delay_s, ttl_s=q.slot_ttl_s, prefix=q.key_prefix)
