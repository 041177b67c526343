"""One place: address, a week of hours, services, accessibility, how to repay, directions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from mobile.core.api import ApiClient
from mobile.core.models import BranchQueue, Place, PlaceDetail
from mobile.core.platform_ import UriOpener
from mobile.core.presenters.base import Presenter, error_key
from mobile.core.runner import Outcome, Runner


def web_map_url(place: Place) -> str:
    """The place on OpenStreetMap's website: works in any browser, copied when nothing opens."""
    return (f"https://www.openstreetmap.org/?mlat={place.lat:.6f}&mlon={place.lon:.6f}"
            f"#map=18/{place.lat:.6f}/{place.lon:.6f}")


def tel_uri(phone: str) -> str:
    """A `tel:` URI (RFC 3966) of a phone number as written: only digits and a leading +."""
    digits = "".join(c for c in phone if c.isdigit())
    return "tel:" + ("+" if phone.strip().startswith("+") else "") + digits


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
    notice_values: tuple[tuple[str, str], ...] = ()
    # A branch's queue with every line (None until fetched, or for other kinds of place).
    queue: BranchQueue | None = None
    queue_error: str | None = None


class DetailPresenter(Presenter[DetailState]):
    """Opens a place from the list or the map and fetches its week of hours."""

    def __init__(self, api: ApiClient, runner: Runner, open_uri: UriOpener,
                 copy_text: Callable[[str], None] = lambda _text: None) -> None:
        super().__init__(DetailState())
        self.api = api
        self.runner = runner
        self.open_uri = open_uri
        self.copy_text = copy_text
        self._generation = 0

    def open(self, place: Place) -> None:
        """Show a place (its list data at once) and fetch its detail."""
        self._generation += 1
        generation = self._generation
        self._set(place=place, detail=None, loading=True, error=None, notice=None,
                  notice_values=(), queue=None, queue_error=None)
        self.runner.submit(lambda: self.api.place(place.id),
                           lambda outcome: self._loaded(generation, outcome))
        if place.kind == "branch":
            self.runner.submit(lambda: self.api.branch_queue(place.id),
                               lambda outcome: self._queue_loaded(generation, outcome))

    def _queue_loaded(self, generation: int, outcome: Outcome[BranchQueue]) -> None:
        if generation != self._generation:
            return
        if outcome.error is not None:
            self._set(queue=None, queue_error=error_key(outcome.error))
        else:
            self._set(queue=outcome.value, queue_error=None)

    def _loaded(self, generation: int, outcome: Outcome[PlaceDetail]) -> None:
        if generation != self._generation:
            return
        if outcome.error is not None:
            self._set(loading=False, error=error_key(outcome.error))
        else:
            self._set(loading=False, detail=outcome.value, error=None)

    def directions(self) -> str | None:
        """A maps app by `geo:` URI, else the web map in a browser, else the web map's link
        copied and shown: one of them always works. Returns what was opened or copied."""
        place = self.state.place
        if place is None:
            return None
        uri = geo_uri(place)
        if self.open_uri(uri):
            self._set(notice=None, notice_values=())
            return uri
        url = web_map_url(place)
        if self.open_uri(url):
            self._set(notice="detail.directions_web", notice_values=())
            return url
        self.copy_text(url)
        self._set(notice="detail.directions_copied", notice_values=(("url", url),))
        return url

    def call(self) -> str | None:
        """The phone's dialer with the number filled in (`tel:`); where nothing can dial (a
        desktop), the number is copied and the screen says so. Returns the URI or number."""
        place = self._current()
        if place is None or not place.phone:
            return None
        uri = tel_uri(place.phone)
        if self.open_uri(uri):
            return uri
        self.copy_text(place.phone)
        self._set(notice="detail.call_copied", notice_values=(("phone", place.phone),))
        return place.phone

    def copy_address(self) -> str | None:
        """Copy the place's name and address, one line each, and say so."""
        place = self._current()
        if place is None:
            return None
        text = "\n".join([place.name, *(place.address.lines() if place.address else [])])
        self.copy_text(text)
        self._set(notice="detail.address_copied", notice_values=())
        return text

    def _current(self) -> Place | None:
        detail = self.state.detail
        return detail.place if detail else self.state.place
