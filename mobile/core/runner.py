"""Running blocking work (network calls) off the UI thread and delivering results back to it."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What a piece of work produced: a value, or the exception it raised."""

    value: T | None = None
    error: Exception | None = None


class Runner(Protocol):
    """Runs work somewhere and calls `done` with its outcome on the UI thread."""

    def submit(self, work: Callable[[], Any], done: Callable[[Outcome[Any]], None]) -> None:
        """Run `work`; deliver its outcome to `done`."""

    def post(self, callback: Callable[[], None]) -> None:
        """Call `callback` on the UI thread."""


def _run(work: Callable[[], T]) -> Outcome[T]:
    try:
        return Outcome(value=work())
    except Exception as exc:  # noqa: BLE001 - every failure is delivered to the presenter
        return Outcome(error=exc)


class InlineRunner:
    """Runs work at once on the calling thread (scripts and deterministic tests)."""

    def submit(self, work: Callable[[], Any], done: Callable[[Outcome[Any]], None]) -> None:
        """Run `work` now and call `done`."""
        done(_run(work))

    def post(self, callback: Callable[[], None]) -> None:
        """Call `callback` now."""
        callback()


class ThreadRunner:
    """Runs work on a small thread pool; `post` hands results to the UI thread's loop."""

    def __init__(self, post: Callable[[Callable[[], None]], None], workers: int = 4) -> None:
        self._post = post
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nearbank-io")

    def submit(self, work: Callable[[], Any], done: Callable[[Outcome[Any]], None]) -> None:
        """Run `work` on a worker thread; `done` is called on the UI thread."""

        def job() -> None:
            outcome = _run(work)
            self._post(lambda: done(outcome))

        self._pool.submit(job)

    def post(self, callback: Callable[[], None]) -> None:
        """Call `callback` on the UI thread."""
        self._post(callback)

    def shutdown(self) -> None:
        """Wait for running work and stop the threads."""
        self._pool.shutdown(wait=True, cancel_futures=True)
