"""Live queue state in Redis: one key per branch, each line expiring when its system is silent.

A branch's key is `nb:qb:{place id}` and holds its lines, `;`-separated, each
`{line}|{as_of ms}|{expires ms}|{as_of}|{waiting}|{open desks}|{mean service s}|{serving}`. A line
expires QUEUE_LIVE_TTL_SECONDS after the report's own `as_of` (readers skip it from then on) and
the key when its last line does, so a silent system's branch turns to "unknown" (or typical)
instead of showing an old number. A line whose `as_of` is not newer than the one held is ignored,
inside one Lua script: concurrent or repeated reports are safe. One key per branch keeps a
page's read to one MGET of 20 keys, not 80.

Accepted reports also add to per-hour-of-week sums in Redis hashes, which `flush_aggregates`
moves to PostgreSQL (table queue_typical) at most once a minute.

Each process keeps the branch values it has read (BranchCache), kept exact by Redis's own
invalidation messages (client tracking in broadcast mode on the key prefix): a page near branches
that another request just read costs no round trip, and a report is seen by the next read of
every process, not after some time-to-live.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import redis
from flask import Flask

from backend.queues.estimate import estimate_wait_min

log = logging.getLogger(__name__)

PREFIX = "nb:qb:"
INVALIDATE_CHANNEL = "__redis__:invalidate"
AGG_COUNT, AGG_WAIT, AGG_WAITING = "nb:qagg:n", "nb:qagg:w", "nb:qagg:q"
FLUSH_LOCK = "nb:qagg:lock"

# KEYS: m branch keys, then the three aggregate hashes and the flush lock.
# ARGV: per branch its number of lines k, then per line (line, as_of ms, expires ms, entry,
# aggregate field, wait minutes or "", waiting); last the flush interval in seconds.
# Returns a flag per line (1 stored, 0 not newer), then 1 when a flush is due.
_STORE_LINES = """
local m = #KEYS - 4
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local order = {'counter', 'cash', 'advisor', 'priority'}
local flags = {}
local a = 1
for i = 1, m do
  local held = {}
  local old = redis.call('GET', KEYS[i])
  if old then
    for entry in string.gmatch(old, '[^;]+') do
      local line, ms, exp = string.match(entry, '^([^|]+)|(%d+)|(%d+)|')
      if line then held[line] = {tonumber(ms), tonumber(exp), entry} end
    end
  end
  local k = tonumber(ARGV[a]); a = a + 1
  for j = 1, k do
    local line, ms, exp = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
    local h = held[line]
    if h == nil or h[2] <= now or h[1] < ms then
      held[line] = {ms, exp, ARGV[a + 3]}
      if ARGV[a + 5] ~= '' then
        redis.call('HINCRBY', KEYS[m + 1], ARGV[a + 4], 1)
        redis.call('HINCRBYFLOAT', KEYS[m + 2], ARGV[a + 4], ARGV[a + 5])
        redis.call('HINCRBYFLOAT', KEYS[m + 3], ARGV[a + 4], ARGV[a + 6])
      end
      flags[#flags + 1] = 1
    else
      flags[#flags + 1] = 0
    end
    a = a + 7
  end
  local parts, last = {}, 0
  for _, line in ipairs(order) do
    local h = held[line]
    if h and h[2] > now then
      parts[#parts + 1] = h[3]
      if h[2] > last then last = h[2] end
    end
  end
  if #parts > 0 then
    redis.call('SET', KEYS[i], table.concat(parts, ';'), 'PX', last - now)
  else
    redis.call('DEL', KEYS[i])
  end
end
local due = redis.call('SET', KEYS[m + 4], '1', 'NX', 'EX', ARGV[a])
flags[#flags + 1] = due and 1 or 0
return flags
"""


def branch_key(place_id: int) -> str:
    return f"{PREFIX}{place_id}"


@dataclass(frozen=True)
class LiveLine:
    """One line's last report."""

    line: str
    waiting: int
    open_desks: int
    mean_service_s: float
    as_of_ms: int
    serving: int | None = None

    def encode(self, expires_ms: int) -> str:
        # Plain fields joined by "|" (line, as_of and expiry in ms first, for the script, then
        # as_of in ISO 8601): reading a page of lines must cost microseconds, not JSON parsing.
        as_of = datetime.fromtimestamp(self.as_of_ms // 1000, UTC).isoformat()
        serving = "" if self.serving is None else self.serving
        return (f"{self.line}|{self.as_of_ms}|{expires_ms}|{as_of}|{self.waiting}|"
                f"{self.open_desks}|{self.mean_service_s!r}|{serving}")

    def estimate(self) -> float | None:
        """The estimated wait in minutes (see estimate_wait_min)."""
        return estimate_wait_min(self.waiting, self.open_desks, self.mean_service_s,
                                 self.serving)


@lru_cache(maxsize=65536)
def decode_line(raw: str) -> tuple[str, int, tuple[dict[str, Any], float | None, float, str, int]]:
    """A stored line: (line, expiry in ms, (its `queue.lines` entry, the exact estimate, the
    mean service time, as_of, open desks)).

    Cached by the stored bytes: a line is read by every request near its branch until the next
    report replaces it. The entry is shared between answers and must not be changed.
    """
    line, _, expires, as_of, waiting, desks, mean, serving = raw.split("|")
    waiting_, desks_, mean_ = int(waiting), int(desks), float(mean)
    wait = estimate_wait_min(waiting_, desks_, mean_, int(serving) if serving else None)
    return line, int(expires), ({"line": line,
                                 "estimated_wait_min": None if wait is None else round(wait),
                                 "waiting": waiting_}, wait, mean_, as_of, desks_)


class BranchLines(dict):
    """A branch's live lines (line -> state) as decoded from one stored value, with room for
    what is derived from them (the `queue` object per chosen line): requests near the branch
    share it until the next report replaces the value. Never changed once filled."""

    derived: dict[str, Any]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.derived = {}


# A branch's value as read: its lines, the first of their expiries (ms), the stored bytes.
StoredBranch = tuple[BranchLines, int, bytes]


@lru_cache(maxsize=4096)
def decode_branch(raw: bytes) -> tuple[BranchLines, int]:
    """A branch's stored value: (its lines, the first of their expiries in ms)."""
    lines = BranchLines()
    first_expiry = None
    for entry in raw.decode().split(";"):
        line, expires, state = decode_line(entry)
        lines[line] = state
        first_expiry = expires if first_expiry is None else min(first_expiry, expires)
    return lines, first_expiry or 0


class BranchCache:
    """The branch values (decoded, or None for "no key") this process has read, kept exact by
    Redis client tracking.

    One connection per process asks Redis to report every change to a key under PREFIX
    (`CLIENT TRACKING ON REDIRECT <itself> BCAST PREFIX nb:qb:`, RESP2) and listens on
    `__redis__:invalidate`; every lookup first takes the messages that arrived (a non-blocking
    read) and forgets the keys they name (all keys for a flush). A value fetched while a change
    to its key was on its way is not kept (the generation check in `store`). When the
    connection fails (Redis restarted, say) the cache is emptied and nothing is kept until a new
    one tracks again (tried at most once a second); when Redis refuses tracking (an ACL without
    CLIENT, say) the cache stays off and every read goes to Redis.

    Expiry needs no message: the stored value carries each line's expiry, which readers check.
    """

    def __init__(self, url: str, max_entries: int = 50_000) -> None:
        self._pool = redis.ConnectionPool.from_url(url, protocol=2, socket_timeout=0.5,
                                                   socket_connect_timeout=0.5)
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._values: dict[int, StoredBranch | None] = {}
        self._conn: Any = None
        self._pid = 0
        self._retry_at = 0.0
        # Every message moves the generation on; _changed holds the generation at which each
        # key last changed, _cleared the last generation that emptied everything.
        self._generation = 0
        self._changed: dict[int, int] = {}
        self._cleared = 0
        self.refused = False

    def lookup(self, place_ids: list[int]) -> tuple[dict[int, StoredBranch | None], int] | None:
        """(the values held for these places, the generation to pass to `store`), or None
        when the cache cannot be trusted now (the caller reads Redis)."""
        with self._lock:
            if not self._sync():
                return None
            values = self._values
            return ({pid: values[pid] for pid in place_ids if pid in values},
                    self._generation)

    def store(self, fetched: dict[int, StoredBranch | None], generation: int) -> None:
        """Keep values read from Redis after `lookup` gave `generation`, except those whose
        key changed since (their message may have come before or after the read)."""
        with self._lock:
            if not self._sync() or self._cleared > generation:
                return
            if len(self._values) + len(fetched) > self.max_entries:
                self._values.clear()
            changed = self._changed
            for pid, value in fetched.items():
                if changed.get(pid, -1) <= generation:  # no change since the lookup
                    self._values[pid] = value

    def forget(self, place_ids: list[int]) -> None:
        """This process changed these keys: drop them now (their message follows)."""
        with self._lock:
            self._generation += 1
            for pid in place_ids:
                self._values.pop(pid, None)
                self._changed[pid] = self._generation

    def clear(self) -> None:
        with self._lock:
            self._clear()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._drop_connection()
            self._pool.disconnect()

    def _clear(self) -> None:
        self._values.clear()
        self._changed.clear()
        self._generation += 1
        self._cleared = self._generation

    def _sync(self) -> bool:
        """Take the pending invalidation messages; False when not tracking (lock held)."""
        if self.refused:
            return False
        if self._conn is None or self._pid != os.getpid():
            if time.monotonic() < self._retry_at:
                return False
            self._connect()
            if self._conn is None:
                return False
        try:
            while self._conn.can_read(timeout=0):
                self._invalidate(self._conn.read_response())
        except (redis.RedisError, OSError) as exc:
            log.warning("queue state cache: tracking lost (%s); reading Redis meanwhile",
                        type(exc).__name__)
            self._drop_connection()
            return False
        return True

    def _invalidate(self, message: Any) -> None:
        if not isinstance(message, list) or len(message) < 3 or message[0] != b"message":
            return
        keys = message[2]
        if keys is None:  # FLUSHDB / FLUSHALL: every key is gone
            self._clear()
            return
        self._generation += 1
        for key in keys:
            try:
                pid = int(key[len(PREFIX):])
            except ValueError:
                continue
            self._values.pop(pid, None)
            self._changed[pid] = self._generation
        if len(self._changed) > 4 * self.max_entries:
            self._clear()

    def _connect(self) -> None:
        # Nothing read before tracking started can be trusted: start empty.
        self._clear()
        self._pid = os.getpid()
        conn = self._pool.make_connection()
        try:
            conn.connect()
            conn.send_command("CLIENT", "ID")
            client_id = conn.read_response()
            conn.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST",
                              "PREFIX", PREFIX)
            conn.read_response()
            conn.send_command("SUBSCRIBE", INVALIDATE_CHANNEL)
            conn.read_response()
        except redis.ResponseError as exc:
            conn.disconnect()
            self.refused = True
            log.warning("queue state cache off: Redis refused client tracking (%s)", exc)
            return
        except (redis.RedisError, OSError):
            conn.disconnect()
            self._retry_at = time.monotonic() + 1.0
            return
        self._conn = conn

    def _drop_connection(self) -> None:
        with contextlib.suppress(Exception):  # it is being thrown away
            self._conn.disconnect()
        self._conn = None
        self._clear()
        self._retry_at = time.monotonic() + 1.0


@dataclass(frozen=True)
class LineWrite:
    """One line to store: its report, time-to-live, and what it adds to the typical sums."""

    place_id: int
    live: LiveLine
    expires_ms: int
    hour_of_week: int
    wait_min: float | None


class QueueStore:
    """The Redis client of live queue state (REDIS_URL); None-safe when no Redis is set."""

    def __init__(self) -> None:
        self.client: redis.Redis | None = None
        self.cache: BranchCache | None = None
        self._script: Any = None

    def init_app(self, app: Flask) -> None:
        self.bind(app.config.get("REDIS_URL"), cache=app.config.get("QUEUE_STATE_CACHE", True))
        app.extensions["queue_store"] = self

    def bind(self, url: str | None, cache: bool = True) -> None:
        """Point the store at a Redis (or at none); `cache` keeps read values in the process
        (BranchCache)."""
        self.close()
        self.cache = BranchCache(url) if url and cache else None
        if not url:
            self.client, self._script = None, None
            return
        # Short timeouts: a hung Redis must not hold a nearby request; the answer then says
        # "unknown" (see read_live).
        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self.client.register_script(_STORE_LINES)

    def close(self) -> None:
        """Let go of the cache's tracking connection (the client's pool closes with it)."""
        if self.cache is not None:
            self.cache.close()
            self.cache = None

    def write(self, writes: list[LineWrite], flush_interval_s: int = 60) -> tuple[list[bool], bool]:
        """Store lines newer than held ones; (accepted flags, whether a flush is due).

        :raises redis.RedisError: when Redis cannot be reached.
        """
        if self.client is None:
            raise redis.ConnectionError("no Redis is configured (REDIS_URL)")
        by_branch: dict[int, list[int]] = {}
        for index, w in enumerate(writes):
            by_branch.setdefault(w.place_id, []).append(index)
        keys, args, order = [], [], []
        for place_id, indexes in by_branch.items():
            keys.append(branch_key(place_id))
            args.append(len(indexes))
            for index in indexes:
                w = writes[index]
                order.append(index)
                args += [w.live.line, w.live.as_of_ms, w.expires_ms, w.live.encode(w.expires_ms),
                         f"{w.place_id}:{w.live.line}:{w.hour_of_week}",
                         "" if w.wait_min is None else repr(float(w.wait_min)), w.live.waiting]
        keys += [AGG_COUNT, AGG_WAIT, AGG_WAITING, FLUSH_LOCK]
        args.append(flush_interval_s)
        try:
            result = self._script(keys=keys, args=args)
        finally:
            if self.cache is not None:  # seen by this process's next read, message or not
                self.cache.forget(list(by_branch))
        flags = [False] * len(writes)
        for index, flag in zip(order, result[:-1], strict=True):
            flags[index] = bool(flag)
        return flags, bool(result[-1])

    def read(self, place_ids: list[int]) -> dict[int, dict[str, tuple]]:
        """Every live line of these places, in one round trip (MGET of one key a branch).

        :raises redis.RedisError: when Redis cannot be reached.
        """
        if self.client is None or not place_ids:
            return {}
        held = self.cache.lookup(place_ids) if self.cache is not None else None
        if held is None:
            values = dict(zip(place_ids, self._fetch(place_ids), strict=True))
        else:
            values, generation = held
            missing = [pid for pid in place_ids if pid not in values]
            if missing:
                fetched = dict(zip(missing, self._fetch(missing), strict=True))
                self.cache.store(fetched, generation)
                values.update(fetched)
        now_ms = time.time() * 1000
        found: dict[int, dict[str, tuple]] = {}
        for pid in place_ids:
            value = values[pid]
            if value is None:
                continue
            lines, first_expiry, raw = value
            if first_expiry > now_ms:
                found[pid] = lines  # shared with every request that reads the same report
                continue
            fresh = {}
            for entry in raw.decode().split(";"):
                line, expires, state = decode_line(entry)
                if expires > now_ms:  # a line its system stopped reporting is gone
                    fresh[line] = state
            if fresh:
                found[pid] = fresh
        return found

    def _fetch(self, place_ids: list[int]) -> list[StoredBranch | None]:
        """The places' values from Redis (MGET), decoded; None where a place has no key."""
        return [None if raw is None else (*decode_branch(raw), raw)
                for raw in self.client.mget([PREFIX + str(pid) for pid in place_ids])]

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
