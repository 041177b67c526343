"""A remote ticket: take one for a line at a branch, see its place in line, cancel it.

The ticket screen asks for the ticket again only while it is on screen (the view calls
`refresh` on its own clock and stops when the cardholder leaves); nothing is pushed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from mobile.core import errors
from mobile.core.api import ApiClient
from mobile.core.models import Ticket
from mobile.core.presenters.base import Presenter, error_key
from mobile.core.runner import Outcome, Runner

# Seconds between two refreshes of the ticket screen while it is on show.
REFRESH_SECONDS = 20.0


@dataclass(frozen=True)
class TicketState:
    """The ticket on show: the newest of the last day (an ended one says how it ended)."""

    ticket: Ticket | None = None
    loaded: bool = False
    busy: bool = False
    error: str | None = None
    notice: str | None = None
    fetched_at: datetime | None = None

    @property
    def active(self) -> Ticket | None:
        """The ticket when it is still in the queue."""
        return self.ticket if self.ticket is not None and self.ticket.active else None


class TicketPresenter(Presenter[TicketState]):
    """Takes, shows, refreshes and cancels the cardholder's one ticket."""

    def __init__(self, api: ApiClient, runner: Runner, on_session_ended: Callable[[], None],
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(TicketState())
        self.api = api
        self.runner = runner
        self.on_session_ended = on_session_ended
        self.now = now
        self._in_flight = False
        # Bumped by every change the cardholder makes (take, cancel): a refresh asked for
        # before it answers with the ticket as it was, and is dropped.
        self._changes = 0

    def take(self, branch_id: str, line: str) -> None:
        """Take a ticket for a line at a branch (one at a time; the server holds the rule)."""
        if self.state.busy:
            return
        self._set(busy=True, error=None, notice=None)
        self.runner.submit(lambda: self.api.take_ticket(branch_id, line), self._taken)

    def _taken(self, outcome: Outcome[Ticket]) -> None:
        error = outcome.error
        if error is None:
            self._changes += 1
            self._set(ticket=outcome.value, loaded=True, busy=False, fetched_at=self.now())
        elif isinstance(error, errors.Conflict):
            # One is held already (show it), or the branch takes none.
            held = bool(error.problem.get("ticket_id"))
            self._set(busy=False, notice="ticket.conflict" if held else None,
                      error=None if held else "ticket.refused")
            if held:
                self.refresh()
        else:
            self._fail(error)

    def refresh(self) -> None:
        """Ask for the ticket again (skipped while an answer is awaited)."""
        if self._in_flight:
            return
        self._in_flight = True
        changes = self._changes
        self.runner.submit(self.api.my_tickets, lambda outcome: self._loaded(changes, outcome))

    def _loaded(self, changes: int, outcome: Outcome[list[Ticket]]) -> None:
        self._in_flight = False
        if changes != self._changes:
            return  # asked before a take or cancel answered: it shows the ticket as it was
        if outcome.error is not None:
            self._fail(outcome.error)
            return
        tickets = outcome.value or []
        active = [t for t in tickets if t.active]
        shown = active[0] if active else (tickets[0] if tickets else None)
        self._set(ticket=shown, loaded=True, busy=False, error=None, fetched_at=self.now())

    def cancel(self) -> None:
        """Cancel the ticket on show (the cardholder's tap)."""
        ticket = self.state.active
        if ticket is None or self.state.busy:
            return
        self._set(busy=True, error=None, notice=None)
        self.runner.submit(lambda: self.api.cancel_ticket(ticket.id), self._cancelled)

    def _cancelled(self, outcome: Outcome[Ticket]) -> None:
        if isinstance(outcome.error, errors.Conflict):
            self._set(busy=False)
            self.refresh()  # it ended meanwhile: show how
        elif outcome.error is not None:
            self._fail(outcome.error)
        else:
            self._changes += 1
            self._set(ticket=outcome.value, busy=False, fetched_at=self.now())

    def clear(self) -> None:
        """Forget the ticket on show (on sign-out)."""
        self._set(ticket=None, loaded=False, busy=False, error=None, notice=None,
                  fetched_at=None)

    def _fail(self, error: Exception) -> None:
        self._set(busy=False, error=error_key(error))
        if isinstance(error, errors.AuthRequired):
            self.on_session_ended()
