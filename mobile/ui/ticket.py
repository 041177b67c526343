"""The ticket: its number, place in line and estimate, refreshed only while on screen.

Entering the screen asks for the ticket and starts a Kivy clock interval; leaving cancels it,
so no request is made while the cardholder looks elsewhere. Nothing is pushed.
"""

from __future__ import annotations

from pathlib import Path

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from mobile.core.describe import line_name, ticket_wait
from mobile.core.presenters import REFRESH_SECONDS, TicketState
from mobile.ui import theme
from mobile.ui.base import BaseScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class TicketScreen(BaseScreen):
    """Opened from a branch's detail (after taking a ticket, or to see the one held)."""

    came_from = StringProperty("detail")
    refresh_seconds = NumericProperty(REFRESH_SECONDS)
    has_ticket = BooleanProperty(False)
    can_cancel = BooleanProperty(False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.presenter = self.core.ticket
        self.refresher = None  # the clock event while the screen is on show
        self.presenter.subscribe(self.render)

    def on_enter(self, *args) -> None:
        """Ask for the ticket now, then every `refresh_seconds` while the screen is shown."""
        if not self.presenter.state.busy:
            self.presenter.refresh()
        self._stop()
        self.refresher = Clock.schedule_interval(self._tick, self.refresh_seconds)
        self.render()

    def on_leave(self, *args) -> None:
        """Stop refreshing: nothing is requested while the screen is not on show."""
        self._stop()

    def _stop(self) -> None:
        if self.refresher is not None:
            self.refresher.cancel()
            self.refresher = None

    def _tick(self, _dt: float) -> None:
        self.presenter.refresh()

    def back(self) -> None:
        """Return to where the ticket was opened from."""
        self.app.go(self.came_from)

    def cancel_ticket(self) -> None:
        """The Cancel button."""
        self.presenter.cancel()

    def render(self, state: TicketState | None = None) -> None:
        """Draw the ticket, or say there is none."""
        state = state or self.presenter.state
        ids = self.ids
        t = self.core.translator
        ticket = state.ticket
        self.has_ticket = ticket is not None
        self.can_cancel = state.active is not None and not state.busy
        ids.cancel.enabled = self.can_cancel
        message = ""
        if state.error:
            message = self.t(state.error)
        elif state.notice:
            message = self.t(state.notice)
        elif not state.loaded:
            message = self.t("ticket.loading")
        elif ticket is None:
            message = self.t("ticket.none")
        ids.message.text = message
        if ticket is None:
            ids.label.text = ids.where.text = ids.status.text = ids.wait.text = ""
            ids.check_in.text = ids.updated.text = ""
            return
        ids.label.text = ticket.label
        ids.where.text = self.t("ticket.line_at", line=line_name(t, ticket.line),
                                branch=ticket.branch_name)
        status = self.t(f"ticket.status_{ticket.status}")
        ids.status.text = status
        ids.status.tone = theme.OPEN if ticket.status == "called" else (
            theme.TEXT if ticket.active else theme.MUTED)
        ids.wait.text = ticket_wait(t, ticket)
        now = self.core.now()
        ids.check_in.text = (self.t("ticket.check_in_by", time=t.moment(ticket.check_in_by, now))
                             if ticket.active and ticket.check_in_by else "")
        ids.updated.text = (self.t("ticket.updated", age=t.age(state.fetched_at, now))
                            if state.fetched_at else "")

    def retranslate(self) -> None:
        """Redraw in the new language."""
        self.render()
