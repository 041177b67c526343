"""Signing in and out, and remembering the session between launches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mobile.core import errors
from mobile.core.api import ApiClient
from mobile.core.models import Me
from mobile.core.presenters.base import Presenter, error_key
from mobile.core.runner import Outcome, Runner


@dataclass(frozen=True)
class SessionState:
    """Whether a cardholder is signed in, and what the sign-in screen shows."""

    signed_in: bool = False
    busy: bool = False
    me: Me | None = None
    error: str | None = None
    notice: str | None = None


class SessionPresenter(Presenter[SessionState]):
    """The sign-in screen and the session that the other presenters rely on."""

    def __init__(self, api: ApiClient, runner: Runner) -> None:
        super().__init__(SessionState())
        self.api = api
        self.runner = runner
        self._on_signed_out: list[Callable[[], None]] = []

    def on_signed_out(self, callback: Callable[[], None]) -> None:
        """Register something to forget when the cardholder signs out."""
        self._on_signed_out.append(callback)

    def restore(self) -> None:
        """Resume a remembered session (if a refresh token is stored) without asking again."""
        if not self.api.has_session:
            return
        self._set(signed_in=True, error=None, notice=None)
        self.runner.submit(self.api.me, self._restored)

    def _restored(self, outcome: Outcome[Me]) -> None:
        if outcome.error is None:
            self._set(me=outcome.value)
        elif isinstance(outcome.error, errors.AuthRequired):
            self.session_ended()
        # Offline: stay signed in; the places are public and the cache shows the last ones.

    def sign_in(self, email: str, password: str) -> None:
        """Sign in with the cardholder's credentials."""
        if self.state.busy:
            return
        if not email.strip() or not password:
            self._set(error="signin.missing")
            return
        self._set(busy=True, error=None, notice=None)
        self.runner.submit(lambda: self.api.sign_in(email.strip(), password), self._signed_in)

    def _signed_in(self, outcome: Outcome[Me]) -> None:
        if outcome.error is not None:
            self._set(busy=False, error=error_key(outcome.error))
        else:
            self._set(busy=False, signed_in=True, me=outcome.value, error=None)

    def sign_out(self) -> None:
        """Revoke the session on the server and forget it here (even if the server is away)."""
        self._set(busy=True)
        self.runner.submit(self.api.sign_out, self._signed_out)

    def _signed_out(self, outcome: Outcome[bool]) -> None:
        revoked = outcome.error is None and bool(outcome.value)
        for callback in self._on_signed_out:
            callback()
        self._set(busy=False, signed_in=False, me=None, error=None,
                  notice=None if revoked else "signin.signed_out_not_revoked")

    def session_ended(self) -> None:
        """Another presenter found the session gone (refresh token expired or revoked)."""
        for callback in self._on_signed_out:
            callback()
        self._set(signed_in=False, busy=False, me=None, error="error.session_ended")
