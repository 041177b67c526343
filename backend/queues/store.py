"""Live queue state in Redis: one key per branch line, expiring when its system falls silent.

A line's key is `nb:q:{place id}:{line}` and holds `{as_of in ms}|{fields}`. It expires
QUEUE_LIVE_TTL_SECONDS after the report's own `as_of`, so a silent system's branch turns to
"unknown" (or typical) instead of showing an old number. A report whose `as_of` is not newer than
the one held is ignored, inside one Lua script: concurrent or repeated reports are safe.

Accepted reports also add to per-hour-of-week sums in Redis hashes, which `flush_aggregates`
moves to PostgreSQL (table queue_typical) at most once a minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import redis
from flask import Flask

from backend.queues.estimate import estimate_wait_min
from backend.queues.models import LINES

PREFIX = "nb:q:"
AGG_COUNT, AGG_WAIT, AGG_WAITING = "nb:qagg:n", "nb:qagg:w", "nb:qagg:q"
FLUSH_LOCK = "nb:qagg:lock"

# KEYS: n line keys, then the three aggregate hashes and the flush lock.
# ARGV: per line (as_of ms, value, ttl ms, aggregate field, wait minutes or "", waiting), then the
# flush interval in seconds. Returns the accepted flags, then 1 when a flush is due.
_STORE_LINES = """
local n = #KEYS - 4
local flags = {}
for i = 1, n do
  local base = (i - 1) * 6
  local ts = tonumber(ARGV[base + 1])
  local old = redis.call('GET', KEYS[i])
  local newer = true
  if old then
    local sep = string.find(old, '|', 1, true)
    if sep and tonumber(string.sub(old, 1, sep - 1)) >= ts then newer = false end
  end
  if newer then
    redis.call('SET', KEYS[i], ARGV[base + 2], 'PX', ARGV[base + 3])
    local wait = ARGV[base + 5]
    if wait ~= '' then
      redis.call('HINCRBY', KEYS[n + 1], ARGV[base + 4], 1)
      redis.call('HINCRBYFLOAT', KEYS[n + 2], ARGV[base + 4], wait)
      redis.call('HINCRBYFLOAT', KEYS[n + 3], ARGV[base + 4], ARGV[base + 6])
    end
    flags[i] = 1
  else
    flags[i] = 0
  end
end
local due = redis.call('SET', KEYS[n + 4], '1', 'NX', 'EX', ARGV[n * 6 + 1])
flags[n + 1] = due and 1 or 0
return flags
"""


def line_key(place_id: int, line: str) -> str:
    return f"{PREFIX}{place_id}:{line}"


@dataclass(frozen=True)
class LiveLine:
    """One line's last report."""

    line: str
    waiting: int
    open_desks: int
    mean_service_s: float
    as_of_ms: int
    serving: int | None = None

    def encode(self) -> str:
        # Plain fields joined by "|" (as_of in ms first, for the script's comparison, then as
        # ISO 8601): reading a page of lines must cost microseconds, not JSON parsing.
        as_of = datetime.fromtimestamp(self.as_of_ms // 1000, UTC).isoformat()
        serving = "" if self.serving is None else self.serving
        return (f"{self.as_of_ms}|{as_of}|{self.waiting}|{self.open_desks}|"
                f"{self.mean_service_s!r}|{serving}")

    def estimate(self) -> float | None:
        """The estimated wait in minutes (see estimate_wait_min)."""
        return estimate_wait_min(self.waiting, self.open_desks, self.mean_service_s,
                                 self.serving)


@lru_cache(maxsize=65536)
def decode_line(line: str, raw: bytes) -> tuple[dict[str, Any], float | None, float, str, int]:
    """A stored line: (its `queue.lines` entry, the exact estimate, the mean service time,
    as_of, open desks).

    Cached by the stored bytes: a line is read by every request near its branch until the next
    report replaces it. The entry is shared between answers and must not be changed.
    """
    _, as_of, waiting, desks, mean, serving = raw.decode().split("|")
    waiting_, desks_, mean_ = int(waiting), int(desks), float(mean)
    wait = estimate_wait_min(waiting_, desks_, mean_, int(serving) if serving else None)
    return ({"line": line, "estimated_wait_min": None if wait is None else round(wait),
             "waiting": waiting_}, wait, mean_, as_of, desks_)


@dataclass(frozen=True)
class LineWrite:
    """One line to store: its report, time-to-live, and what it adds to the typical sums."""

    place_id: int
    live: LiveLine
    ttl_ms: int
    hour_of_week: int
    wait_min: float | None


class QueueStore:
    """The Redis client of live queue state (REDIS_URL); None-safe when no Redis is set."""

    def __init__(self) -> None:
        self.client: redis.Redis | None = None
        self._script: Any = None

    def init_app(self, app: Flask) -> None:
        self.bind(app.config.get("REDIS_URL"))
        app.extensions["queue_store"] = self

    def bind(self, url: str | None) -> None:
        """Point the store at a Redis (or at none)."""
        if not url:
            self.client, self._script = None, None
            return
        # Short timeouts: a hung Redis must not hold a nearby request; the answer then says
        # "unknown" (see read_live).
        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self.client.register_script(_STORE_LINES)

    def write(self, writes: list[LineWrite], flush_interval_s: int = 60) -> tuple[list[bool], bool]:
        """Store lines newer than held ones; (accepted flags, whether a flush is due).

        :raises redis.RedisError: when Redis cannot be reached.
        """
        if self.client is None:
            raise redis.ConnectionError("no Redis is configured (REDIS_URL)")
        keys, args = [], []
        for w in writes:
            keys.append(line_key(w.place_id, w.live.line))
            field = f"{w.place_id}:{w.live.line}:{w.hour_of_week}"
            args += [w.live.as_of_ms, w.live.encode(), max(1, w.ttl_ms), field,
                     "" if w.wait_min is None else repr(float(w.wait_min)), w.live.waiting]
        keys += [AGG_COUNT, AGG_WAIT, AGG_WAITING, FLUSH_LOCK]
        args.append(flush_interval_s)
        result = self._script(keys=keys, args=args)
        return [bool(f) for f in result[:-1]], bool(result[-1])

    def read(self, place_ids: list[int]) -> dict[int, dict[str, tuple]]:
        """Every live line of these places, in one round trip (MGET).

        :raises redis.RedisError: when Redis cannot be reached.
        """
        if self.client is None or not place_ids:
            return {}
        keys = [line_key(pid, line) for pid in place_ids for line in LINES]
        values = self.client.mget(keys)
        found: dict[int, dict[str, tuple]] = {}
        for index, raw in enumerate(values):
            if raw is None:
                continue
            pid, line = place_ids[index // len(LINES)], LINES[index % len(LINES)]
            found.setdefault(pid, {})[line] = decode_line(line, raw)
        return found

    def take_aggregates(self) -> dict[str, tuple[int, float, float]]:
        """Move the accumulated sums out of Redis: {"place:line:hour": (n, wait, waiting)}."""
        if self.client is None:
            return {}
        pipe = self.client.pipeline(transaction=True)
        for key in (AGG_COUNT, AGG_WAIT, AGG_WAITING):
            pipe.hgetall(key)
        pipe.delete(AGG_COUNT, AGG_WAIT, AGG_WAITING)
        counts, waits, waitings, _ = pipe.execute()
        return {field.decode(): (int(n), float(waits.get(field, 0)),
                                 float(waitings.get(field, 0)))
                for field, n in counts.items()}
