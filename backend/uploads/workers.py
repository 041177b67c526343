"""Checking an upload's records in worker processes, in file order.

The per-record checks (validation, the country and time zone of the point, the service region)
are Python and take most of a dry run's staging time; a large file is checked by a pool of
processes in chunks, while this process parses the file and streams the staged rows to
PostgreSQL (the COPY stays on this process's connection). Results come back in the file's
order, so what is staged, reported and counted is exactly what the serial path gives.

The pool is per upload: it starts after PARALLEL_AFTER records (small files never pay for it)
and ends with the upload. A single-threaded process (the CLI, the benchmark) forks, so the
workers share its already loaded boundary data; a threaded one (the web app) uses a fork
server, whose workers load the data once. NEARBANK_UPLOAD_WORKERS sets the number of worker
processes (0 or 1: no pool); by default there are none on a machine of fewer than four CPUs.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

WORKERS_ENV = "NEARBANK_UPLOAD_WORKERS"
# Environment the checks read (backend.regions), handed to every chunk so a fork-server worker
# judges with this process's settings.
CHECK_ENV = ("NEARBANK_SERVICE_REGIONS", "NEARBANK_STRICT_REGIONS")
PARALLEL_AFTER = 20_000
CHUNK = 2_000
MAX_WORKERS = 4
MIN_CPUS = 4

Checked = tuple[Any, list[tuple[str, str, str]]]


def worker_count() -> int:
    """Worker processes for a large upload: NEARBANK_UPLOAD_WORKERS, else one per CPU but one
    (at most MAX_WORKERS), and none below MIN_CPUS: PostgreSQL needs a core for the COPY, and
    on two cores the workers were measured slower than this process alone
    (docs/benchmarks-uploads.md)."""
    value = os.environ.get(WORKERS_ENV, "").strip()
    if value:
        try:
            return max(0, int(value))
        except ValueError:
            pass
    cpus = os.cpu_count() or 1
    return min(MAX_WORKERS, cpus - 1) if cpus >= MIN_CPUS else 0


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _warm() -> None:
    """Load the boundary data once per worker (a forked worker has it already)."""
    from backend import world

    world._countries()
    world._timezones()


def _check_chunk(source: str, env: dict[str, str | None],
                 items: list[tuple[str, dict, list[str]] | None]) -> list[Checked | None]:
    """The worker's side: check records as the dry run does (None stays None)."""
    from backend.uploads.parsers import RawRecord
    from backend.uploads.service import _check

    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    batch = _Source(source)
    return [None if item is None else _check(batch, RawRecord(*item), None)  # type: ignore
            for item in items]


class _Source:
    """What _check needs of a batch."""

    def __init__(self, source: str) -> None:
        self.source = source


def checked_in_order(records: Iterable[Any], source: str,
                     check: Callable[[Any], Checked],
                     in_worker: Callable[[Any], bool],
                     workers: int | None = None,
                     parallel_after: int | None = None,
                     chunk: int | None = None) -> Iterator[tuple[Any, Checked]]:
    """(record, check(record)) for every record, in order.

    The first `parallel_after` records are checked here; with more than one worker the rest go
    to a process pool in chunks (a bounded number in flight, so memory stays flat), except the
    records `in_worker` refuses (they need this process, such as geocoding), which are checked
    here when their chunk comes back.
    """
    workers = worker_count() if workers is None else workers
    parallel_after = PARALLEL_AFTER if parallel_after is None else parallel_after
    chunk = CHUNK if chunk is None else chunk
    iterator = iter(records)
    seen = 0
    if workers > 1:
        for record in iterator:
            yield record, check(record)
            seen += 1
            if seen >= parallel_after:
                break
        else:
            return
    else:
        for record in iterator:
            yield record, check(record)
        return
    env = {name: os.environ.get(name) for name in CHECK_ENV}
    pending: deque[tuple[list[Any], Future]] = deque()
    with ProcessPoolExecutor(max_workers=workers, mp_context=_context(),
                             initializer=_warm) as pool:
        try:
            def submit(batch: list[Any]) -> None:
                items = [(r.locator, r.fields, list(getattr(r, "warnings", ())))
                         if in_worker(r) else None for r in batch]
                pending.append((batch, pool.submit(_check_chunk, source, env, items)))

            def drain() -> Iterator[tuple[Any, Checked]]:
                batch, future = pending.popleft()
                for record, result in zip(batch, future.result(), strict=True):
                    yield record, check(record) if result is None else result

            batch: list[Any] = []
            for record in iterator:
                batch.append(record)
                if len(batch) == chunk:
                    submit(batch)
                    batch = []
                    while len(pending) > 2 * workers:
                        yield from drain()
            if batch:
                submit(batch)
            while pending:
                yield from drain()
        finally:
            for _, future in pending:
                future.cancel()
