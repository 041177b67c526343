"""Offers: nothing until the cardholder taps "Show offers near me"; then exactly one request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from mobile.core import errors
from mobile.core.api import ApiClient
from mobile.core.location import (
    LocationProvider,
    LocationResult,
    LocationUnavailable,
    round_for_precision,
)
from mobile.core.offers import Consent, Offer
from mobile.core.presenters.base import Presenter, error_key
from mobile.core.runner import Outcome, Runner
from mobile.core.settings import SettingsStore


@dataclass(frozen=True)
class OffersState:
    """`phase`: idle, loading, shown, promotions_off, location_problem or error."""

    phase: str = "idle"
    offers: tuple[Offer, ...] = ()
    fetched_at: datetime | None = None
    error: str | None = None
    location_problem: str | None = None


class OffersPresenter(Presenter[OffersState]):
    """Requests offers only in response to the tap, and never shows old ones as current."""

    def __init__(self, api: ApiClient, runner: Runner, location: LocationProvider,
                 settings: SettingsStore, on_session_ended: Callable[[], None],
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(OffersState())
        self.api = api
        self.runner = runner
        self.location = location
        self.settings = settings
        self.on_session_ended = on_session_ended
        self.now = now
        self._generation = 0

    def show_offers_near_me(self) -> None:
        """The cardholder's tap: check the consent, then find the position and ask once.

        With promotions off, nothing more is sent: no position is read and no offers are
        requested; the screen explains instead.
        """
        if self.state.phase == "loading":
            return  # a second tap while the first is under way asks for nothing more
        self._generation += 1
        generation = self._generation
        self._set(phase="loading", offers=(), error=None, location_problem=None)
        self.runner.submit(self.api.consent, lambda outcome: self._consent(generation, outcome))

    def _consent(self, generation: int, outcome: Outcome[Consent]) -> None:
        if generation != self._generation:
            return
        if outcome.error is not None:
            self._received(generation, Outcome(error=outcome.error))
            return
        if outcome.value is None or not outcome.value.promotions:
            self._set(phase="promotions_off")
            return

        def located(result: LocationResult) -> None:
            self.runner.post(lambda: self._request(generation, result))

        self.location.locate(located)

    def clear(self) -> None:
        """Back to the empty screen (when the cardholder leaves it): offers are not kept."""
        self._generation += 1
        self._set(phase="idle", offers=(), fetched_at=None, error=None, location_problem=None)

    def _request(self, generation: int, result: LocationResult) -> None:
        if generation != self._generation:
            return
        if isinstance(result, LocationUnavailable):
            self._set(phase="location_problem", location_problem=result.reason)
            return
        lat, lon = round_for_precision(result.lat, result.lon, self.settings.current.precision)
        radius = self.settings.current.radius_m
        self.runner.submit(lambda: self.api.offers_nearby(lat, lon, radius_m=radius),
                           lambda outcome: self._received(generation, outcome))

    def _received(self, generation: int, outcome: Outcome[list[Offer]]) -> None:
        if generation != self._generation:
            return
        error = outcome.error
        if error is None:
            self._set(phase="shown", offers=tuple(outcome.value or ()), fetched_at=self.now())
        elif isinstance(error, errors.PromotionsNotEnabled):
            self._set(phase="promotions_off")
        elif isinstance(error, errors.AuthRequired):
            self._set(phase="idle")
            self.on_session_ended()
        else:
            self._set(phase="error", error=error_key(error))
