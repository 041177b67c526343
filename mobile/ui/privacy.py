"""Privacy and settings: promotions, categories, limits, precision, place, language, history."""

from __future__ import annotations

from pathlib import Path

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import BooleanProperty

from mobile.core.i18n import LANGUAGES
from mobile.core.location import PRECISIONS
from mobile.core.offers import ConsentEvent
from mobile.core.presenters import PrivacyState
from mobile.ui import theme
from mobile.ui.base import BaseScreen
from mobile.ui.widgets import Caption, Chip

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class PrivacyScreen(BaseScreen):
    """Every change here is the cardholder's own tap; nothing is switched on for them."""

    promotions_on = BooleanProperty(False)
    consent_known = BooleanProperty(False)
    confirming_sign_out = BooleanProperty(False)
    reading_notice = BooleanProperty(False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.presenter = self.core.privacy
        self.category_chips: dict[str, Chip] = {}
        self.precision_chips: dict[str, Chip] = {}
        self.language_chips: dict[str, Chip] = {}
        self.text_size_chips: dict[str, Chip] = {}
        self.history_rows: list[Caption] = []
        self._build_setting_chips()
        self.presenter.subscribe(self.render)
        self.core.session.subscribe(lambda _state: self._render_account())

    def on_enter(self, *args) -> None:
        """Opening the screen reads the consent and its history (never offers)."""
        self.presenter.refresh_settings()
        self.presenter.load()

    # -- actions -------------------------------------------------------------------------------

    def toggle_promotions(self) -> None:
        """Turn promotions on or off, as the button says."""
        consent = self.presenter.state.consent
        if consent is not None:
            self.presenter.set_promotions(not consent.promotions)

    def step_max_offers(self, step: int) -> None:
        """The − and + buttons."""
        current = self.presenter.state.max_offers
        if current is not None:
            self.presenter.set_max_offers(current + step)

    def set_place(self) -> None:
        """Use the typed place for searches."""
        if self.presenter.set_place(self.ids.place_input.text):
            self.ids.place_input.text = ""

    def ask_sign_out(self) -> None:
        """The Sign out button: ask first (a stray tap must not end the session)."""
        self.confirming_sign_out = True
        Clock.schedule_once(lambda _dt: self.ids.scroller.scroll_to(
            self.ids.sign_out_confirm, padding=dp(12), animate=False), 0)

    def sign_out(self) -> None:
        """Confirmed: revoke on the server, forget on the device."""
        self.confirming_sign_out = False
        self.core.session.sign_out()

    def set_text_scale(self, chip: Chip) -> None:
        """A text size chip: 'system' follows the device, else a fixed scale."""
        self.app.set_font_scale(None if chip.key == "system" else float(chip.key))
        self.render()

    # -- drawing -------------------------------------------------------------------------------

    def _build_setting_chips(self) -> None:
        for precision in PRECISIONS:
            chip = Chip(key=precision, group="precision", allow_no_selection=False)
            chip.bind(on_release=lambda c: self.presenter.set_precision(c.key))
            self.precision_chips[precision] = chip
            self.ids.precision.add_widget(chip)
        for language, name in LANGUAGES.items():
            chip = Chip(key=language, label=name, group="language", allow_no_selection=False)
            chip.bind(on_release=lambda c: self.app.set_language(c.key))
            self.language_chips[language] = chip
            self.ids.languages.add_widget(chip)
        for key in ("system", *(str(s) for s in theme.FONT_SCALES)):
            chip = Chip(key=key, group="text-size", allow_no_selection=False)
            chip.bind(on_release=self.set_text_scale)
            self.text_size_chips[key] = chip
            self.ids.text_sizes.add_widget(chip)

    def render(self, state: PrivacyState | None = None) -> None:
        """Draw the consent, the settings and the history."""
        state = state or self.presenter.state
        ids = self.ids
        consent = state.consent
        self.consent_known = consent is not None
        self.promotions_on = bool(consent and consent.promotions)
        ids.promotions_state.text = self.t("settings.promotions_state_on"
                                           if self.promotions_on
                                           else "settings.promotions_state_off")
        ids.promotions_button.text = self.t("settings.turn_off" if self.promotions_on
                                            else "settings.turn_on")
        busy = state.saving or state.loading
        ids.promotions_button.enabled = consent is not None and not busy and (
            state.reading is None) and (self.promotions_on or bool(state.draft_categories))
        self._render_notice(state)
        ids.categories_hint.text = "" if self.promotions_on else self.t(
            "settings.categories_hint")
        ids.max_offers.text = self.t("settings.max_offers", n=state.max_offers) \
            if consent else ""
        ids.policy.text = self.t("settings.policy", version=consent.policy_version) \
            if consent and consent.policy_version else ""
        self._render_categories(state)
        for key, chip in self.precision_chips.items():
            chip.label = self.t(f"precision.{key}")
            chip.state = "down" if key == state.settings.precision else "normal"
        for key, chip in self.language_chips.items():
            chip.state = "down" if key == state.settings.language else "normal"
        chosen = state.settings.font_scale
        for key, chip in self.text_size_chips.items():
            chip.label = (self.t("settings.text_size_system") if key == "system"
                          else f"{round(float(key) * 100)}%")
            selected = chosen is None if key == "system" else chosen == float(key)
            chip.state = "down" if selected else "normal"
        place = state.settings.place()
        ids.place_current.text = self.t("settings.place_current", where=place.label) \
            if place else self.t("settings.place_none")
        ids.place_error.text = self.t("location.parse") if state.place_error else ""
        self._render_history(state.history)
        ids.export_path.text = self.t("settings.exported", path=state.export_path) \
            if state.export_path else ""
        if state.error or state.notice:
            ids.message.text = self.t(state.error or state.notice)
        elif state.saving:
            ids.message.text = self.t("settings.saving")
        elif state.loading:
            ids.message.text = self.t("settings.loading")
        else:
            ids.message.text = ""
        self._render_account()

    def _render_notice(self, state: PrivacyState) -> None:
        """The promotions notice as the server serves it, in the app's language, with its
        version: agreeing sends that version."""
        notice = state.reading
        was_reading = self.reading_notice
        self.reading_notice = notice is not None
        if notice is None:
            return
        title, body = notice.text(self.core.translator.language)
        ids = self.ids
        ids.notice_title.text = title
        ids.notice_body.text = body
        ids.notice_version.text = self.t("notice.version", version=notice.version,
                                         date=notice.published_on or "")
        ids.agree.enabled = ids.decline.enabled = not state.saving
        if not was_reading:
            Clock.schedule_once(lambda _dt: self.ids.scroller.scroll_to(
                self.ids.notice_panel, padding=dp(12), animate=False), 0)

    def _render_account(self) -> None:
        me = self.core.session.state.me
        self.ids.account.text = self.t("settings.signed_in_as", email=me.email) if me else ""

    def _render_categories(self, state: PrivacyState) -> None:
        consent = state.consent
        box = self.ids.categories
        available: list[str] = []
        if consent is not None:
            available = list(dict.fromkeys(consent.available_categories + consent.categories))
        if list(self.category_chips) != available:
            box.clear_widgets()
            self.category_chips = {}
            for category in available:
                chip = Chip(key=category, label=self.core.translator.code(category))
                chip.bind(on_release=lambda c: self.presenter.toggle_category(c.key))
                self.category_chips[category] = chip
                box.add_widget(chip)
        for key, chip in self.category_chips.items():
            chip.state = "down" if key in state.chosen_categories else "normal"
            chip.disabled = state.saving

    def _render_history(self, history: tuple[ConsentEvent, ...]) -> None:
        box = self.ids.history
        box.clear_widgets()
        self.history_rows = []
        if not history:
            box.add_widget(Caption(text=self.t("settings.history_empty")))
            return
        t = self.core.translator
        for event in reversed(history):  # newest first
            parts = [self.t(f"consent.{event.action}")]
            if event.categories:
                parts.append(self.t("consent.categories", categories=", ".join(
                    t.code(c) for c in event.categories)))
            if event.max_offers is not None:
                parts.append(self.t("consent.max", n=event.max_offers))
            when = event.at.astimezone().strftime("%Y-%m-%d %H:%M") if event.at else ""
            row = Caption(text=self.t("settings.history_entry", date=when,
                                      action=" · ".join(parts)))
            self.history_rows.append(row)
            box.add_widget(row)

    def retranslate(self) -> None:
        """Redraw in the new language."""
        self.category_chips = {}
        self.render()
