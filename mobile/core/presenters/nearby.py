"""The Nearby screen (and its map): branches or repayment points, nearest first, with filters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from mobile.core import errors
from mobile.core.api import ApiClient
from mobile.core.cache import NearbyCache
from mobile.core.location import (
    Fix,
    LocationParseError,
    LocationProvider,
    LocationResult,
    LocationUnavailable,
    parse_location,
    round_for_precision,
)
from mobile.core.models import FoundPlace, NearbyPage, Place
from mobile.core.presenters.base import Presenter, error_key
from mobile.core.runner import Outcome, Runner
from mobile.core.settings import SettingsStore

TABS = ("branches", "repay")
FILTERS = {
    "branches": ("open_now", "step_free"),
    "repay": ("open_now", "step_free", "cash", "fee_free"),
}
# Step-free access is Open Banking's LevelAccess (no steps between street and counter).
STEP_FREE = "LevelAccess"
RESULT_LIMIT = 30


@dataclass(frozen=True)
class NearbyState:
    """What the Nearby list and map show."""

    tab: str = "branches"
    filters: frozenset[str] = frozenset()
    places: tuple[Place, ...] = ()
    loading: bool = False
    loaded: bool = False
    offline: bool = False
    fetched_at: datetime | None = None
    error: str | None = None
    location: Fix | None = None
    location_problem: str | None = None
    # With "Open now" on and nothing open: the nearest place that opens next (or is open round
    # the clock), found by the same search without "Open now".
    next_open: Place | None = None
    # The cardholder opened the place search box (it also opens when there is no position).
    searching: bool = False
    # Branches: "nearest" (the default) or "soonest_served" (walk plus wait, the "why" shown).
    order: str = "nearest"

    @property
    def empty(self) -> bool:
        """A search answered and found nothing."""
        return self.loaded and not self.places and not self.loading


def opens_next(places: tuple[Place, ...]) -> Place | None:
    """Of a search's places (nearest first), the one that opens soonest; ties go to the
    nearer; a place open round the clock (no next change) counts as open already."""
    always = [p for p in places if p.open_now and p.next_change_at is None
              and p.status == "active"]
    if always:
        return always[0]
    closed = [p for p in places if p.open_now is False and p.next_change_at is not None
              and p.status == "active"]
    if not closed:
        return None
    return min(closed, key=lambda p: (p.next_change_at, p.distance_m or 0.0))


def matches(place: Place, filters: frozenset[str]) -> bool:
    """Whether a place passes the filters (applied on the device to cached results)."""
    repayment = place.repayment
    checks = {
        "open_now": place.open_now is True,
        "step_free": STEP_FREE in place.accessibility,
        "cash": repayment is not None and "cash" in repayment.methods,
        "fee_free": repayment is not None and repayment.fee_free,
    }
    return all(checks[f] for f in filters)


class NearbyPresenter(Presenter[NearbyState]):
    """Fetches nearby places only when asked (open, tab, filter, refresh); never on a timer."""

    def __init__(self, api: ApiClient, runner: Runner, location: LocationProvider,
                 settings: SettingsStore, cache: NearbyCache,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(NearbyState())
        self.api = api
        self.runner = runner
        self.location = location
        self.settings = settings
        self.cache = cache
        self.now = now
        self._generation = 0

    def reset(self) -> None:
        """Forget the results on show (on sign-out); the next visit searches again."""
        self._generation += 1
        self._set(places=(), loading=False, loaded=False, offline=False, fetched_at=None,
                  error=None, location=None, location_problem=None)

    def select_tab(self, tab: str) -> None:
        """Switch between Branches and Repay my card, keeping the filters that apply."""
        if tab not in TABS:
            raise ValueError(f"unknown tab {tab!r}")
        if tab == self.state.tab and self.state.loaded:
            return
        kept = frozenset(f for f in self.state.filters if f in FILTERS[tab])
        self._set(tab=tab, filters=kept, places=(), loaded=False)
        self.refresh()

    def toggle_filter(self, name: str) -> None:
        """Turn a filter chip on or off and search again."""
        if name not in FILTERS[self.state.tab]:
            raise ValueError(f"filter {name!r} does not apply to {self.state.tab}")
        self._set(filters=self.state.filters ^ {name})
        self.refresh()

    def toggle_soonest(self) -> None:
        """The "Served soonest" chip: rank branches by walk plus wait, or nearest first again."""
        if self.state.tab != "branches":
            raise ValueError("only branches are ordered by their queue")
        order = "nearest" if self.state.order == "soonest_served" else "soonest_served"
        self._set(order=order)
        self.refresh()

    def clear_filters(self) -> None:
        """Turn every filter off and search again (the empty state's button)."""
        if self.state.filters:
            self._set(filters=frozenset())
            self.refresh()

    def refresh(self) -> None:
        """Find the position, then search (the one way results are ever fetched)."""
        self._generation += 1
        generation = self._generation
        self._set(loading=True, error=None, next_open=None)

        def located(result: LocationResult) -> None:
            self.runner.post(lambda: self._search(generation, result))

        self.location.locate(located)

    def use_typed_location(self, text: str) -> None:
        """Search from what the user typed: a position (any common notation), or else a place
        name or postcode that the server's geocoder finds; remember it and search."""
        try:
            lat, lon = parse_location(text)
        except LocationParseError:
            self.find_place(text)
            return
        self.settings.update(place_lat=lat, place_lon=lon, place_label=text.strip())
        self.refresh()

    def find_place(self, text: str) -> None:
        """Ask the server where a typed place name or postcode is, then search near it."""
        query = " ".join(text.split())
        if not query:
            self._set(location_problem="parse")
            return
        self._generation += 1
        generation = self._generation
        self._set(loading=True, error=None, next_open=None)

        def found(outcome: Outcome[FoundPlace]) -> None:
            if generation != self._generation:
                return
            place = outcome.value
            if outcome.error is None and place is not None:
                self.settings.update(place_lat=place.lat, place_lon=place.lon,
                                     place_label=place.label)
                self._set(searching=False)
                self.refresh()
            elif isinstance(outcome.error, errors.NotFound):
                self._set(loading=False, location_problem="not_found")
            else:
                self._set(loading=False, location_problem="search_failed",
                          error=error_key(outcome.error or Exception()))

        self.runner.submit(lambda: self.api.find_place(query), found)

    def ask_for_place(self, asking: bool = True) -> None:
        """Show (or hide) the place search box, with or without a GPS fix."""
        self._set(searching=asking)

    def _search(self, generation: int, result: LocationResult) -> None:
        if generation != self._generation:
            return
        if isinstance(result, LocationUnavailable):
            # Never guess a position: say why there is none and let the user type one.
            self._set(loading=False, location=None, location_problem=result.reason,
                      places=(), loaded=False, offline=False)
            return
        self._set(location=result, location_problem=None)
        lat, lon = round_for_precision(result.lat, result.lon, self.settings.current.precision)
        tab, filters, order = self.state.tab, self.state.filters, self.state.order
        radius = self.settings.current.radius_m
        self.runner.submit(lambda: self._fetch(tab, filters, lat, lon, radius, order),
                           lambda outcome: self._fetched(generation, tab, filters, outcome))

    def _fetch(self, tab: str, filters: frozenset[str], lat: float, lon: float,
               radius: float, order: str = "nearest") -> NearbyPage:
        accessibility = [STEP_FREE] if "step_free" in filters else []
        if tab == "branches":
            return self.api.nearby_branches(
                lat, lon, radius_m=radius, limit=RESULT_LIMIT, open_now="open_now" in filters,
                accessibility=accessibility,
                order="soonest_served" if order == "soonest_served" else None)
        return self.api.repayment_points(
            lat, lon, radius_m=radius, limit=RESULT_LIMIT, open_now="open_now" in filters,
            accessibility=accessibility, methods=["cash"] if "cash" in filters else [],
            fee_free="fee_free" in filters)

    def _find_next_open(self, generation: int, tab: str, filters: frozenset[str]) -> None:
        """Nothing is open now: ask again without "Open now" to name what opens next."""
        location = self.state.location
        if location is None:
            return
        lat, lon = round_for_precision(location.lat, location.lon,
                                       self.settings.current.precision)
        radius = self.settings.current.radius_m
        others = filters - {"open_now"}

        def found(outcome: Outcome[NearbyPage]) -> None:
            if generation != self._generation or outcome.value is None:
                return  # a newer search, or the second query failed: no hint, no error
            self._set(next_open=opens_next(outcome.value.places))

        self.runner.submit(lambda: self._fetch(tab, others, lat, lon, radius), found)

    def _fetched(self, generation: int, tab: str, filters: frozenset[str],
                 outcome: Outcome[NearbyPage]) -> None:
        if generation != self._generation:
            return  # the user asked for something else meanwhile
        if outcome.error is None and outcome.value is not None:
            fetched_at = self.now()
            self.cache.save(tab, outcome.value.raw, fetched_at, tuple(sorted(filters)))
            self._set(places=outcome.value.places, loading=False, loaded=True, offline=False,
                      fetched_at=fetched_at, error=None, next_open=None)
            if not outcome.value.places and "open_now" in filters:
                self._find_next_open(generation, tab, filters)
            return
        error = outcome.error
        if isinstance(error, errors.Offline | errors.ServerError):
            cached = self.cache.load(tab)
            if cached is None:
                self._set(places=(), loading=False, loaded=False, offline=True,
                          fetched_at=None, error=error_key(error))
            else:
                # Saved waits are old numbers: offline, a branch's wait is not shown at all.
                places = tuple(replace(p, queue=None, soonest=None)
                               for p in cached.page.places if matches(p, filters))
                self._set(places=places, loading=False, loaded=True, offline=True,
                          fetched_at=cached.fetched_at, error=error_key(error))
            return
        self._set(loading=False, error=error_key(error or Exception()))
