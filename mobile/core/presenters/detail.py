"""One place: address, a week of hours, services, accessibility, how to repay, directions."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from mobile.core.api import ApiClient
from mobile.core.models import Place, PlaceDetail
from mobile.core.platform_ import UriOpener
from mobile.core.presenters.base import Presenter, error_key
from mobile.core.runner import Outcome, Runner


def geo_uri(place: Place) -> str:
    """A `geo:` URI (RFC 5870, with Android's `q=` label) that maps apps route to."""
    coords = f"{place.lat:.6f},{place.lon:.6f}"
    return f"geo:{coords}?q={coords}({quote(place.name)})"


@dataclass(frozen=True)
class DetailState:
    """The place on show: its summary at once, the full detail once fetched."""

    place: Place | None = None
    detail: PlaceDetail | None = None
    loading: bool = False
    error: str | None = None
    notice: str | None = None


class DetailPresenter(Presenter[DetailState]):
    """Opens a place from the list or the map and fetches its week of hours."""

    def __init__(self, api: ApiClient, runner: Runner, open_uri: UriOpener) -> None:
        super().__init__(DetailState())
        self.api = api
        self.runner = runner
        self.open_uri = open_uri
        self._generation = 0

    def open(self, place: Place) -> None:
        """Show a place (its list data at once) and fetch its detail."""
        self._generation += 1
        generation = self._generation
        self._set(place=place, detail=None, loading=True, error=None, notice=None)
        self.runner.submit(lambda: self.api.place(place.id),
                           lambda outcome: self._loaded(generation, outcome))

    def _loaded(self, generation: int, outcome: Outcome[PlaceDetail]) -> None:
        if generation != self._generation:
            return
        if outcome.error is not None:
            self._set(loading=False, error=error_key(outcome.error))
        else:
            self._set(loading=False, detail=outcome.value, error=None)

    def directions(self) -> str | None:
        """Hand the place's `geo:` URI to the platform's maps app; returns the URI."""
        place = self.state.place
        if place is None:
            return None
        uri = geo_uri(place)
        if not self.open_uri(uri):
            self._set(notice="detail.no_maps_app")
        return uri
