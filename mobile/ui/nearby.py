"""Nearby: Branches and Repay my card, nearest first, with filter chips and pull to refresh."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)

from mobile.core.describe import (
    direction,
    place_status,
    queue_lines,
    repayment_lines,
    soonest_words,
)
from mobile.core.models import Place
from mobile.core.presenters import FILTERS, NearbyState
from mobile.ui import theme
from mobile.ui.base import BaseScreen
from mobile.ui.widgets import Chip, TappableCard

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

SOONEST = "soonest"  # the order chip beside the filter chips


class PlaceRow(TappableCard):
    """One result: name, distance, direction arrow, open state, and how to repay there."""

    place = ObjectProperty(None, allownone=True)
    name = StringProperty("")
    distance = StringProperty("")
    bearing = NumericProperty(0.0)
    kind_text = StringProperty("")
    status = StringProperty("")
    status_color = ColorProperty(theme.MUTED)
    repay = StringProperty("")
    wait = StringProperty("")
    why = StringProperty("")


def where_text(screen: BaseScreen, state: NearbyState) -> str:
    """Where the search is from: the typed or set place's label, or 'your location'."""
    fix = state.location
    if fix is None:
        return ""
    where = fix.label or (screen.t("location.gps") if fix.source == "gps"
                          else f"{fix.lat:.4f}, {fix.lon:.4f}")
    return screen.t("nearby.near", where=where)


def status_line(screen: BaseScreen, state: NearbyState) -> str:
    """Searching, how many were found and when, or nothing."""
    if state.loading:
        return screen.t("nearby.loading")
    if state.loaded and not state.offline and state.fetched_at is not None:
        return screen.t("nearby.count", n=len(state.places)) + " · " + screen.t(
            "nearby.updated", age=screen.core.translator.age(state.fetched_at, screen.core.now()))
    return ""


def offline_banner(screen: BaseScreen, state: NearbyState) -> str:
    """The banner's text when the backend could not be reached or was too slow (else empty)."""
    if not state.offline:
        return ""
    slow = state.error == "error.slow"
    if state.fetched_at is None:
        return screen.t(state.error or "error.offline") + " " + screen.t(
            "nearby.slow_no_cache" if slow else "nearby.offline_no_cache")
    age = screen.core.translator.age(state.fetched_at, screen.core.now())
    return screen.t("nearby.slow_banner" if slow else "nearby.offline_banner", age=age)


def status_text(text: str, tone: str) -> str:
    """A status line led by its tone's symbol, so it is never told by colour alone."""
    return f"{theme.TONE_ICONS[tone]} {text}"


def next_open_text(screen: BaseScreen, place: Place | None) -> str:
    """The empty state's hint: the nearest place that opens next, or one open round the clock."""
    if place is None:
        return ""
    t = screen.core.translator
    distance = t.distance(place.distance_m)
    if place.open_now:
        return screen.t("nearby.next_24", name=place.name, distance=distance)
    return screen.t("nearby.next_open", name=place.name, distance=distance,
                    time=t.moment(place.next_change_at, screen.core.now()))


class NearbyScreen(BaseScreen):
    """The list; the map screen shows the same results."""

    asking_place = BooleanProperty(False)
    loading = BooleanProperty(False)
    empty = BooleanProperty(False)
    can_clear = BooleanProperty(False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.presenter = self.core.nearby
        self.rows: list[PlaceRow] = []
        self.chips: dict[str, Chip] = {}
        self._chips_for: str | None = None
        self._shown: tuple[Place, ...] | None = None
        self.presenter.subscribe(self.render)

    def on_enter(self, *args) -> None:
        """Opening the list searches while it has nothing to show; otherwise only redraws."""
        state = self.presenter.state
        if not state.loaded and not state.loading:
            self.presenter.refresh()
        else:
            self.render()

    def select_tab(self, tab: str) -> None:
        """A tab was tapped."""
        self.presenter.select_tab(tab)

    def toggle_filter(self, chip: Chip) -> None:
        """A filter chip was tapped."""
        if (chip.state == "down") != (chip.key in self.presenter.state.filters):
            self.presenter.toggle_filter(chip.key)

    def toggle_soonest(self, chip: Chip) -> None:
        """The "Served soonest" chip was tapped."""
        if (chip.state == "down") != (self.presenter.state.order == "soonest_served"):
            self.presenter.toggle_soonest()

    def use_typed_location(self) -> None:
        """The "Use this place" button under the place search box."""
        self.presenter.use_typed_location(self.ids.place_input.text)

    def toggle_search(self) -> None:
        """The header's "Search place" button: open (or close) the place search box."""
        opening = not self.presenter.state.searching
        self.presenter.ask_for_place(opening)
        if opening:
            self.ids.scroller.scroll_y = 1  # the box is at the top of the list
            self.ids.place_input.focus = True

    def open_place(self, row: PlaceRow) -> None:
        """A result was tapped: open its detail."""
        self.core.detail.open(row.place)
        self.manager.get_screen("detail").came_from = "nearby"
        self.app.go("detail")

    def render(self, state: NearbyState | None = None) -> None:
        """Draw the state: tabs, chips, banner, location problem, rows."""
        state = state or self.presenter.state
        ids = self.ids
        ids.tab_branches.state = "down" if state.tab == "branches" else "normal"
        ids.tab_repay.state = "down" if state.tab == "repay" else "normal"
        self._render_chips(state)
        ids.where.text = where_text(self, state)
        ids.status.text = status_line(self, state)
        ids.banner.text = offline_banner(self, state)
        ids.refresh.enabled = not state.loading
        self.loading = state.loading
        problem = state.location_problem
        self.asking_place = bool(problem) or state.searching
        ids.location_message.text = self.t(f"location.{problem}") if problem else ""
        ids.error.text = self.t(state.error) if state.error and not state.offline else ""
        self.empty = state.empty
        self.can_clear = state.empty and bool(state.filters)
        radius = self.core.translator.distance(self.core.settings.current.radius_m)
        ids.message.text = self.t("nearby.empty_filtered" if state.filters else "nearby.empty",
                                  radius=radius) if state.empty else ""
        ids.hint.text = next_open_text(self, state.next_open) if state.empty else ""
        if state.places != self._shown or not self.rows and state.places:
            self._render_rows(state)

    def _render_chips(self, state: NearbyState) -> None:
        box = self.ids.chips
        if self._chips_for != state.tab:
            box.clear_widgets()
            self.chips = {}
            for key in FILTERS[state.tab]:
                chip = Chip(key=key, label=self.t(f"filter.{key}"))
                chip.bind(on_release=self.toggle_filter)
                self.chips[key] = chip
                box.add_widget(chip)
            self._chips_for = state.tab
        soonest = self.chips.get(SOONEST)
        if state.tab == "branches" and soonest is None:
            # Not a filter but an order: branches ranked by walk plus wait.
            soonest = Chip(key=SOONEST, label=self.t("filter.soonest"))
            soonest.bind(on_release=self.toggle_soonest)
            self.chips[SOONEST] = soonest
            box.add_widget(soonest)
        for key, chip in self.chips.items():
            on = state.order == "soonest_served" if key == SOONEST else key in state.filters
            chip.state = "down" if on else "normal"

    def _render_rows(self, state: NearbyState) -> None:
        self._shown = state.places
        box = self.ids.rows
        box.clear_widgets()
        self.rows = []
        now = self.core.now()
        t = self.core.translator
        for place in state.places:
            status, tone = place_status(t, place, now)
            row = PlaceRow(
                place=place, name=place.name, distance=direction(t, place),
                bearing=place.bearing_deg or 0.0, kind_text=self.t(f"kind.{place.kind}"),
                status=status_text(status, tone), status_color=theme.TONES[tone],
                repay="\n".join(repayment_lines(t, place.repayment, now))
                if state.tab == "repay" else "",
                wait="\n".join(queue_lines(t, place.queue)) if state.tab == "branches" else "",
                why=soonest_words(t, place.soonest) if state.tab == "branches" else "")
            row.bind(on_release=self.open_place)
            self.rows.append(row)
            box.add_widget(row)
        self.ids.scroller.scroll_y = 1

    def retranslate(self) -> None:
        """Rebuild chips and rows in the new language."""
        self._chips_for = None
        self._shown = None
        self.render()
