"""One place: address, a week of hours (today highlighted), services, access, how to repay."""

from __future__ import annotations

from pathlib import Path

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty

from mobile.core.describe import (
    direction,
    line_name,
    place_status,
    repayment_lines,
    wait_words,
    walking_minutes,
)
from mobile.core.models import DayHours
from mobile.core.presenters import DetailState
from mobile.ui import theme
from mobile.ui.base import BaseScreen
from mobile.ui.nearby import status_text
from mobile.ui.widgets import AppButton, Card, Text

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

SHOW_TICKET = "show"  # the button that opens the ticket already held here


class HoursRow(Card):
    """One day of the week: its name, its hours, and an exception's note."""

    day = StringProperty("")
    hours = StringProperty("")
    note = StringProperty("")
    today = BooleanProperty(False)
    closed = BooleanProperty(False)
    exception = BooleanProperty(False)


class DetailScreen(BaseScreen):
    """Opened from the list or the map; Back returns there."""

    came_from = StringProperty("nearby")
    has_phone = BooleanProperty(False)
    is_branch = BooleanProperty(False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.presenter = self.core.detail
        self.hour_rows: list[HoursRow] = []
        self.ticket_buttons: dict[str, AppButton] = {}
        self._buttons_for: tuple | None = None
        self._showing: str | None = None
        self.presenter.subscribe(self.render)
        # A ticket taken or ended changes the branch's ticket buttons.
        self.core.ticket.subscribe(lambda _state: self.render())

    def back(self) -> None:
        """Return to where the place was opened from."""
        self.app.go(self.came_from)

    def directions(self) -> None:
        """A maps app, else the web map, else its link copied (see the presenter)."""
        self.presenter.directions()

    def call(self) -> None:
        """The dialer with the place's number, or the number copied where nothing dials."""
        self.presenter.call()

    def take_ticket(self, line: str) -> None:
        """A "Take a ticket" button: take it and show the ticket screen."""
        place = self.presenter.state.place
        if place is None:
            return
        if line != SHOW_TICKET:
            self.core.ticket.take(place.id, line)
        self.manager.get_screen("ticket").came_from = "detail"
        self.app.go("ticket")

    def _render_queue(self, state: DetailState, place) -> None:
        """The branch's lines (live, typical or unknown, said so) and its ticket buttons."""
        t = self.core.translator
        ids = self.ids
        self.is_branch = place.kind == "branch"
        listed = state.place.queue if state.place is not None else None
        queue = state.queue or (listed if state.queue_error is None else None)
        if not self.is_branch:
            ids.queue_text.text = ids.queue_note.text = ""
        elif queue is None:
            ids.queue_text.text = self.t(state.queue_error) if state.queue_error else \
                self.t("detail.loading")
            ids.queue_note.text = ""
        elif queue.source == "unknown":
            ids.queue_text.text = self.t("queue.row", line=line_name(t, queue.line),
                                         wait=self.t("queue.wait_unknown"))
            ids.queue_note.text = self.t("queue.none") if queue.takes_tickets is False else ""
        else:
            rows = []
            for line in queue.lines:
                row = self.t("queue.row", line=line_name(t, line.line),
                             wait=wait_words(t, line.estimated_wait_min, queue.source))
                if line.open_desks is not None and queue.source == "live":
                    row += " · " + self.t("queue.desks", n=line.open_desks)
                rows.append(row)
            ids.queue_text.text = "\n".join(rows)
            ids.queue_note.text = (self.t("queue.typical_note") if queue.source == "typical"
                                   else self.t("queue.as_of",
                                               age=t.age(queue.as_of, self.core.now())))
        self._render_ticket_buttons(state, queue)

    def _render_ticket_buttons(self, state: DetailState, queue) -> None:
        signed_in = self.core.session.state.signed_in
        held = self.core.ticket.state.active
        if not (self.is_branch and signed_in and queue is not None and queue.takes_tickets):
            lines: tuple[str, ...] = ()
        elif held is not None and held.branch_id == (state.place.id if state.place else None):
            lines = (SHOW_TICKET,)
        else:
            lines = tuple(x.line for x in queue.lines)
        key = (lines, self.core.translator.language)
        if key == self._buttons_for:
            return
        self._buttons_for = key
        box = self.ids.ticket_buttons
        box.clear_widgets()
        self.ticket_buttons = {}
        for line in lines:
            text = (self.t("queue.show_ticket") if line == SHOW_TICKET else
                    self.t("queue.take", line=line_name(self.core.translator, line)))
            button = AppButton(text=text, kind="primary" if line == SHOW_TICKET
                               else "secondary")
            button.bind(on_release=lambda _b, chosen=line: self.take_ticket(chosen))
            self.ticket_buttons[line] = button
            box.add_widget(button)

    def render(self, state: DetailState | None = None) -> None:
        """Draw what is known: the list's facts at once, the week when it arrives."""
        state = state or self.presenter.state
        place = state.detail.place if state.detail else state.place
        ids = self.ids
        if place is None:
            return
        t = self.core.translator
        now = self.core.now()
        if place.id != self._showing:  # another place: start at its name and Directions
            self._showing = place.id
            self._scroll_to_top()
        ids.name.text = place.name
        ids.kind.text = self.t(f"kind.{place.kind}") + (f" · {place.brand}" if place.brand
                                                       and place.brand not in place.name else "")
        status, tone = place_status(t, place, now)
        ids.status.text = status_text(status, tone)
        ids.status.tone = theme.TONES[tone]
        # Distance and bearing belong to the search the place was opened from.
        seen_from = state.place or place
        ids.arrow.bearing = seen_from.bearing_deg or 0.0
        ids.arrow.shown = seen_from.bearing_deg is not None
        ids.away.text = (direction(t, seen_from) + " · " + self.t(
            "detail.walk", minutes=walking_minutes(seen_from.distance_m))
            if seen_from.distance_m is not None else "")
        ids.address.text = "\n".join(place.address.lines()) if place.address else ""
        self.has_phone = bool(place.phone)
        ids.call.text = self.t("detail.call", phone=place.phone) if place.phone else ""
        services = [t.code(c) for c in place.services]
        ids.services.text = ", ".join(services) if services else self.t("detail.none")
        access = [t.code(c) for c in place.accessibility]
        ids.accessibility.text = ", ".join(access) if access else self.t("detail.none")
        lines = repayment_lines(t, place.repayment, now)
        ids.repay.text = "\n".join(lines) if lines else self.t("detail.no_repay")
        ids.message.text = self.t(state.error) if state.error else (
            self.t(state.notice, **dict(state.notice_values)) if state.notice else "")
        if state.loading:
            ids.message.text = self.t("detail.loading")
        had_week = bool(self.hour_rows)
        self._render_week(state)
        if self.hour_rows and not had_week:
            self._scroll_to_top()
        self._render_queue(state, place)
        verified = state.detail.last_verified_at if state.detail else None
        ids.verified.text = self.t("detail.verified", date=t.date(verified.date())) \
            if verified else ""

    def _scroll_to_top(self) -> None:
        scroller = self.ids.scroller
        scroller.scroll_y = 1
        # Again once the new content is laid out (its height changes as the week arrives).
        Clock.schedule_once(lambda _dt: setattr(scroller, "scroll_y", 1), 0)

    def _render_week(self, state: DetailState) -> None:
        box = self.ids.week
        box.clear_widgets()
        self.hour_rows = []
        if state.detail is None:
            return
        if state.detail.week is None:
            box.add_widget(Text(text=self.t("detail.hours_unknown"), tone=theme.MUTED))
            return
        for day in state.detail.week:
            row = HoursRow(day=self._day_name(day), hours=self._hours(day),
                           note=day.note or "", today=day.today, closed=not day.intervals,
                           exception=day.is_exception)
            self.hour_rows.append(row)
            box.add_widget(row)

    def _day_name(self, day: DayHours) -> str:
        t = self.core.translator
        name = f"{t.weekday(day.date.weekday(), short=True)} {day.date.day}/{day.date.month}"
        return f"{name} · {self.t('detail.today')}" if day.today else name

    def _hours(self, day: DayHours) -> str:
        if not day.intervals:
            return self.t("detail.closed_day")
        if day.intervals == (("00:00", "24:00"),):
            return self.t("detail.open_24_day")
        return ", ".join(f"{start}–{end}" for start, end in day.intervals)

    def retranslate(self) -> None:
        """Redraw in the new language."""
        self._buttons_for = None
        self.render()
