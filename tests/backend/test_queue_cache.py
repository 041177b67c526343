"""The per-process cache of branch queue states (backend/queues/store.py BranchCache): a page
read again costs no Redis round trip, and every change made through another connection (another
worker, another host, an operator's redis-cli) is seen by the next read, not after a delay."""

from __future__ import annotations

import random
import time

import pytest
import redis

from backend.queues.store import LineWrite, LiveLine, QueueStore, branch_key
from backend.rediscluster import ensure_redis, stop_redis
from tests.backend import test_queues
from tests.backend.test_queues import _line, _nearby, _put, _queue_of

branches, system = test_queues.branches, test_queues.system  # its fixtures, shared


def _mgets(store: QueueStore) -> int:
    stat = store.client.info("commandstats").get("cmdstat_mget")
    return 0 if stat is None else stat["calls"]


def _write(store: QueueStore, place_id: int, waiting: int, ttl_ms: int = 60_000,
           line: str = "counter") -> None:
    now_ms = int(time.time() * 1000)
    live = LiveLine(line, waiting, 2, 240.0, now_ms)
    flags, _ = store.write([LineWrite(place_id, live, now_ms + ttl_ms, 0, None)])
    assert flags == [True]


def _waiting(store: QueueStore, place_id: int) -> int | None:
    lines = store.read([place_id]).get(place_id, {})
    return lines["counter"][0]["waiting"] if "counter" in lines else None


def _settle(store: QueueStore) -> None:
    """Wait (up to 2 s) until Redis's invalidation message of a change has reached the process:
    the next read takes it. Without it the test would race the message, not the cache."""
    conn = store.cache._conn
    if conn is not None:  # not tracking yet: nothing is held, the next read goes to Redis
        conn.can_read(timeout=2)


@pytest.fixture
def other(redis_url):
    """Another process's view of the same Redis: a store without a cache, and a plain client."""
    writer = QueueStore()
    writer.bind(redis_url, cache=False)
    yield writer
    writer.client.close()


@pytest.fixture
def cached(redis_url, queue_store):
    store = QueueStore()
    store.bind(redis_url, cache=True)
    yield store
    store.close()


def test_a_page_read_again_costs_no_redis_round_trip(client, system, branches, queue_store):
    _put(client, system, branches["Q-1"], [_line(waiting=7)])
    _nearby(client)
    queue_store.client.config_resetstat()
    for _ in range(5):
        assert _queue_of(_nearby(client), branches["Q-1"])["lines"][0]["waiting"] == 7
    assert _mgets(queue_store) == 0
    # A report through this process is seen at once, and read from Redis once.
    _put(client, system, branches["Q-1"], [_line(waiting=3)])
    _settle(queue_store)
    assert _queue_of(_nearby(client), branches["Q-1"])["lines"][0]["waiting"] == 3
    assert _queue_of(_nearby(client), branches["Q-1"])["lines"][0]["waiting"] == 3
    assert _mgets(queue_store) == 1


def test_changes_made_elsewhere_are_seen_by_the_next_read(cached, other):
    _write(other, 101, waiting=5)
    assert _waiting(cached, 101) == 5
    assert _waiting(cached, 102) is None  # "no key" is held too
    other.client.config_resetstat()
    assert (_waiting(cached, 101), _waiting(cached, 102)) == (5, None)
    assert _mgets(other) == 0

    _write(other, 101, waiting=9)
    _settle(cached)
    assert _waiting(cached, 101) == 9
    _write(other, 102, waiting=1)
    _settle(cached)
    assert _waiting(cached, 102) == 1

    other.client.delete(branch_key(101))
    _settle(cached)
    assert _waiting(cached, 101) is None
    other.client.flushdb()
    _settle(cached)
    assert _waiting(cached, 102) is None


def test_a_line_past_its_expiry_is_not_shown_from_the_cache(cached, other):
    _write(other, 201, waiting=4, ttl_ms=60_000, line="cash")
    _write(other, 201, waiting=6, ttl_ms=1_500)
    _settle(cached)
    assert set(cached.read([201])[201]) == {"counter", "cash"}
    assert 201 in cached.cache._values
    time.sleep(1.7)
    # Redis may not have expired anything yet; the stored expiry of each line is checked.
    assert set(cached.read([201])[201]) == {"cash"}


def test_a_value_read_while_its_key_changed_is_not_kept(cached, other):
    _write(other, 301, waiting=2)
    cache = cached.cache
    held, generation = cache.lookup([301])
    assert held == {}
    stale = cached._fetch([301])[0]
    _write(other, 301, waiting=8)  # changes after this read, before the value is stored
    _settle(cached)
    cache.store({301: stale}, generation)
    assert 301 not in cache._values
    assert _waiting(cached, 301) == 8


def test_answers_with_and_without_the_cache_are_equal(cached, other):
    rng = random.Random(7)
    ids = list(range(400, 440))
    for step in range(60):
        pid = rng.choice(ids)
        if rng.random() < 0.15:
            if other.client.delete(branch_key(pid)):
                _settle(cached)
        else:
            _write(other, pid, waiting=rng.randrange(0, 30), line=rng.choice(["counter", "cash"]))
            _settle(cached)
        page = rng.sample(ids, 20)
        assert cached.read(page) == other.read(page), f"step {step}"


def test_a_restarted_redis_empties_the_cache(tmp_path):
    folder = tmp_path / "restarted"
    url = ensure_redis(folder)
    store, writer = QueueStore(), QueueStore()
    store.bind(url, cache=True)
    writer.bind(url, cache=False)
    try:
        _write(writer, 501, waiting=5)
        assert _waiting(store, 501) == 5
        assert 501 in store.cache._values
        stop_redis(folder)
        ensure_redis(folder)  # a new server keeps nothing: the branch is unknown now
        assert _waiting(store, 501) is None
        _write(writer, 501, waiting=6)
        time.sleep(1.1)  # tracking is asked for again at most once a second
        assert _waiting(store, 501) == 6
        assert store.cache._conn is not None
        _write(writer, 501, waiting=7)
        _settle(store)
        assert _waiting(store, 501) == 7
    finally:
        store.close()
        stop_redis(folder)


def test_without_tracking_rights_every_read_goes_to_redis(redis_url, other):
    admin = redis.Redis.from_url(redis_url)
    admin.acl_setuser("no-client", enabled=True, passwords=["+a secret word"], keys=["*"],
                      commands=["+@all", "-client"])
    user_url = redis_url.replace("unix://", "unix://no-client:a%20secret%20word@", 1)
    store = QueueStore()
    store.bind(user_url, cache=True)
    try:
        _write(other, 601, waiting=3)
        assert _waiting(store, 601) == 3
        assert store.cache.refused
        _write(other, 601, waiting=4)
        assert _waiting(store, 601) == 4
    finally:
        store.close()
        admin.acl_deluser("no-client")


def test_the_cache_can_be_turned_off(redis_url):
    store = QueueStore()
    store.bind(redis_url, cache=False)
    assert store.cache is None
    store.bind(redis_url)
    assert store.cache is not None
    store.close()
