"""Privacy and settings: promotions consent, precision, place, language, export, sign out."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mobile.core import errors
from mobile.core.api import ApiClient
from mobile.core.location import LocationParseError, parse_location
from mobile.core.offers import Consent, ConsentEvent, Notice
from mobile.core.presenters.base import Presenter, error_key
from mobile.core.runner import Outcome, Runner
from mobile.core.settings import Settings, SettingsStore

MAX_OFFERS_RANGE = (1, 20)


@dataclass(frozen=True)
class PrivacyState:
    """The consent as the server holds it, its history, and the device's settings.

    While promotions are off, `draft_categories` and `draft_max_offers` hold what the
    cardholder picks before turning them on (the server needs a category to turn them on).
    """

    settings: Settings
    consent: Consent | None = None
    history: tuple[ConsentEvent, ...] = ()
    draft_categories: tuple[str, ...] = ()
    draft_max_offers: int | None = None
    loading: bool = False
    saving: bool = False
    error: str | None = None
    notice: str | None = None
    place_error: bool = False
    export_path: str | None = None
    # The promotions notice on show before turning promotions on (None: not showing it), and
    # the choice that waits for the cardholder's agreement to exactly that version.
    reading: Notice | None = None
    pending: tuple[tuple[str, ...], int] | None = None

    @property
    def chosen_categories(self) -> tuple[str, ...]:
        """The categories on show: the saved ones when on, the draft when off."""
        if self.consent is not None and self.consent.promotions:
            return self.consent.categories
        return self.draft_categories

    @property
    def max_offers(self) -> int | None:
        """The maximum on show: saved when on, the draft (or the saved default) when off."""
        if self.consent is None:
            return None
        if self.consent.promotions or self.draft_max_offers is None:
            return self.consent.max_offers
        return self.draft_max_offers


class PrivacyPresenter(Presenter[PrivacyState]):
    """Changes happen only by the cardholder's own action on this screen."""

    def __init__(self, api: ApiClient, runner: Runner, settings: SettingsStore,
                 export_dir: str | Path, on_session_ended: Callable[[], None],
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(PrivacyState(settings=settings.current))
        self.api = api
        self.runner = runner
        self.settings = settings
        self.export_dir = Path(export_dir)
        self.on_session_ended = on_session_ended
        self.now = now

    # -- consent (server) ----------------------------------------------------------------------

    def load(self) -> None:
        """Fetch the consent and its history (when the screen opens)."""
        self._set(loading=True, error=None, settings=self.settings.current, export_path=None)
        self.runner.submit(lambda: (self.api.consent(), self.api.consent_history()),
                           self._loaded)

    def _loaded(self, outcome: Outcome[tuple[Consent, list[ConsentEvent]]]) -> None:
        if self._failed(outcome):
            self._set(loading=False)
            return
        consent, history = outcome.value  # type: ignore[misc]
        self._set(loading=False, consent=consent, history=tuple(history), error=None)

    def set_promotions(self, on: bool) -> None:
        """Turn promotions on (with the categories picked) or off: only from the user's tap."""
        consent = self.state.consent
        if consent is None:
            return
        if on and not self.state.draft_categories:
            self._set(error="settings.choose_category")
            return
        if on:
            self.show_notice((self.state.draft_categories,
                              self.state.max_offers or consent.max_offers))
        else:
            self._save(False, (), consent.max_offers, None)

    def show_notice(self, pending: tuple[tuple[str, ...], int]) -> None:
        """Fetch the promotions notice in force and show it; `pending` waits for "I agree"."""
        self._set(loading=True, error=None, notice=None, pending=pending)

        def shown(outcome: Outcome[Notice]) -> None:
            if self._failed(outcome):
                self._set(loading=False, pending=None)
                return
            self._set(loading=False, reading=outcome.value)

        self.runner.submit(self.api.promotions_notice, shown)

    def agree(self) -> None:
        """The cardholder read the notice on show and agrees: turn on, naming its version."""
        reading, pending = self.state.reading, self.state.pending
        if reading is None or pending is None:
            return
        categories, max_offers = pending
        self._save(True, categories, max_offers, reading.version)

    def decline(self) -> None:
        """Close the notice without turning anything on."""
        self._set(reading=None, pending=None, notice=None)

    def toggle_category(self, category: str) -> None:
        """Pick or drop a category: saved at once when on, kept as a draft when off."""
        consent = self.state.consent
        if consent is None:
            return
        chosen = list(self.state.chosen_categories)
        if category in chosen:
            chosen.remove(category)
        else:
            chosen.append(category)
        if not consent.promotions:
            self._set(draft_categories=tuple(chosen), error=None)
        elif not chosen:
            self._set(error="settings.keep_one_category")  # turning off is its own button
        else:
            self._save(True, tuple(chosen), consent.max_offers, consent.policy_version)

    def set_max_offers(self, value: int) -> None:
        """The most offers one request may return (1-20)."""
        consent = self.state.consent
        if consent is None:
            return
        low, high = MAX_OFFERS_RANGE
        value = max(low, min(high, int(value)))
        if consent.promotions:
            self._save(True, consent.categories, value, consent.policy_version)
        else:
            self._set(draft_max_offers=value)

    def _save(self, promotions: bool, categories: tuple[str, ...], max_offers: int,
              policy: str | None) -> None:
        """Send the whole choice; `policy` is the version of the notice the cardholder read
        (a grant: the one on show; a change: the one agreed to before; a withdrawal: none)."""
        consent = self.state.consent
        if consent is None or self.state.saving:
            return
        self._set(saving=True, error=None, notice=None)

        def work() -> tuple[Consent, list[ConsentEvent]]:
            saved = self.api.update_consent(promotions, categories, max_offers, policy)
            return saved, self.api.consent_history()

        self.runner.submit(work, self._saved)

    def _saved(self, outcome: Outcome[tuple[Consent, list[ConsentEvent]]]) -> None:
        if isinstance(outcome.error, errors.Conflict):
            # A newer promotions notice: show it, and let the cardholder agree to it or not.
            consent = self.state.consent
            pending = self.state.pending or (
                (self.state.chosen_categories, self.state.max_offers or 1) if consent else None)
            self._set(saving=False, reading=None)
            if pending is not None:
                self.show_notice(pending)
            self._set(notice="settings.policy_changed")
            return
        if self._failed(outcome):
            self._set(saving=False)
            return
        consent, history = outcome.value  # type: ignore[misc]
        self._set(saving=False, consent=consent, history=tuple(history), error=None,
                  draft_categories=() if consent.promotions else self.state.draft_categories,
                  reading=None, pending=None)

    def export_data(self) -> None:
        """Download everything the bank holds about the cardholder into a JSON file."""
        self._set(saving=True, error=None, export_path=None)

        def work() -> str:
            data = self.api.export_data()
            self.export_dir.mkdir(parents=True, exist_ok=True)
            path = self.export_dir / f"nearbank-data-{self.now():%Y%m%d-%H%M%S}.json"
            path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
            return str(path)

        self.runner.submit(work, self._exported)

    def _exported(self, outcome: Outcome[str]) -> None:
        if self._failed(outcome):
            self._set(saving=False)
            return
        self._set(saving=False, export_path=outcome.value)

    def _failed(self, outcome: Outcome[object]) -> bool:
        if outcome.error is None:
            return False
        if isinstance(outcome.error, errors.AuthRequired):
            self.on_session_ended()
        self._set(error=error_key(outcome.error))
        return True

    # -- settings (device) ---------------------------------------------------------------------

    def set_precision(self, precision: str) -> None:
        """How precisely the position leaves the device: exact, 100m or 1km."""
        self._set(settings=self.settings.update(precision=precision))

    def set_language(self, language: str) -> None:
        """English or Simplified Chinese (the server's texts follow from the next request)."""
        self.api.set_language(language)
        self._set(settings=self.settings.update(language=language))

    def set_place(self, text: str) -> bool:
        """Set the position to use instead of the GPS, typed in any common notation."""
        try:
            lat, lon = parse_location(text)
        except LocationParseError:
            self._set(place_error=True)
            return False
        self._set(place_error=False, settings=self.settings.update(
            place_lat=lat, place_lon=lon, place_label=text.strip()))
        return True

    def clear_place(self) -> None:
        """Forget the set position (a phone then uses its GPS again)."""
        self._set(place_error=False, settings=self.settings.update(
            place_lat=None, place_lon=None, place_label=None))

    def refresh_settings(self) -> None:
        """Show settings changed elsewhere (a place typed on the Nearby screen)."""
        self._set(settings=self.settings.current)
