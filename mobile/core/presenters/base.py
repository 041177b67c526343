"""The presenter base: an immutable state, replaced on every change, and its listeners."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Generic, TypeVar

from mobile.core import errors

S = TypeVar("S")


class Presenter(Generic[S]):
    """Holds a screen's state and tells subscribed views when it changes."""

    def __init__(self, state: S) -> None:
        self._state = state
        self._listeners: list[Callable[[S], None]] = []

    @property
    def state(self) -> S:
        """The current state (immutable; a change replaces it)."""
        return self._state

    def subscribe(self, listener: Callable[[S], None]) -> Callable[[], None]:
        """Call `listener` with every new state, starting now; returns an unsubscribe function."""
        self._listeners.append(listener)
        listener(self._state)
        return lambda: self._listeners.remove(listener)

    def _set(self, **changes: Any) -> None:
        self._state = replace(self._state, **changes)  # type: ignore[type-var]
        for listener in list(self._listeners):
            listener(self._state)


def error_key(error: Exception) -> str:
    """The message catalogue key that explains an error to the cardholder."""
    if isinstance(error, errors.Slow):
        return "error.slow"
    if isinstance(error, errors.Offline):
        return "error.offline"
    if isinstance(error, errors.ServerError):
        return "error.server"
    if isinstance(error, errors.AuthRequired):
        return "error.session_ended"
    if isinstance(error, errors.InvalidCredentials):
        return "error.wrong_credentials"
    if isinstance(error, errors.NotACardholder):
        return "error.not_cardholder"
    if isinstance(error, errors.PromotionsNotEnabled):
        return "offers.off_title"
    if isinstance(error, errors.Forbidden):
        return "error.forbidden"
    if isinstance(error, errors.NotFound):
        return "error.not_found"
    if isinstance(error, errors.RateLimited):
        return "error.rate_limited"
    if isinstance(error, errors.Conflict):
        return "error.conflict"
    if isinstance(error, errors.InvalidRequest):
        return "error.invalid"
    if isinstance(error, errors.MalformedResponse):
        return "error.malformed"
    return "error.unexpected"
