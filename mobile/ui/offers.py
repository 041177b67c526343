"""Offers: empty until the cardholder taps "Show offers near me"; each offer says why."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty

from mobile.core.offers import Offer
from mobile.core.presenters import OffersState
from mobile.ui.base import BaseScreen
from mobile.ui.widgets import Card

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class OfferCard(Card):
    """Merchant, benefit, distance, validity and the `why` lines of one offer."""

    offer = ObjectProperty(None, allownone=True)
    merchant = StringProperty("")
    benefit = StringProperty("")
    facts = StringProperty("")
    why_title = StringProperty("")
    why = StringProperty("")


class OffersScreen(BaseScreen):
    """Nothing here asks for offers except the button."""

    promotions_off = BooleanProperty(False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.presenter = self.core.offers
        self.cards: list[OfferCard] = []
        self.presenter.subscribe(self.render)

    def show_offers(self) -> None:
        """The one button that requests offers."""
        self.presenter.show_offers_near_me()

    def open_privacy(self) -> None:
        """From the "promotions are off" explanation to the privacy screen."""
        self.app.go("privacy")

    def on_leave(self, *args) -> None:
        """Offers are not kept: next time the screen opens empty again."""
        self.presenter.clear()

    def render(self, state: OffersState | None = None) -> None:
        """Draw the phase: idle, loading, shown, promotions off, location problem or error."""
        state = state or self.presenter.state
        ids = self.ids
        ids.button.enabled = state.phase != "loading"
        self.promotions_off = state.phase == "promotions_off"
        messages = {
            "loading": self.t("offers.loading"),
            "error": (self.t(state.error) + " " if state.error else "") + self.t("offers.error"),
            "location_problem": self.t(f"location.{state.location_problem}")
            + " " + self.t("settings.place_explain") if state.location_problem else "",
        }
        if state.phase == "shown":
            messages["shown"] = (self.t("offers.none") if not state.offers else self.t(
                "offers.found", n=len(state.offers),
                age=self.core.translator.age(state.fetched_at, self.core.now())))
        ids.message.text = messages.get(state.phase, "")
        self._render_cards(state.offers)
        ids.scroller.scroll_y = 1  # a new answer (or none) is read from the top

    def _render_cards(self, offers: tuple[Offer, ...]) -> None:
        box = self.ids.cards
        box.clear_widgets()
        self.cards = []
        t = self.core.translator
        for offer in offers:
            facts = []
            if offer.distance_m is not None:
                facts.append(self.t("offers.away", distance=t.distance(offer.distance_m)))
            if offer.valid_until is not None:
                facts.append(self.t("offers.valid_until", date=t.date(offer.valid_until.date())))
            else:
                facts.append(self.t("offers.valid_always"))
            # The title usually says the benefit already ("20% off any flat white").
            headline = offer.title if offer.benefit.lower() in offer.title.lower() else (
                f"{offer.benefit} · {offer.title}")
            card = OfferCard(offer=offer, merchant=offer.merchant, benefit=headline,
                             facts=" · ".join(facts), why_title=self.t("offers.why"),
                             why="\n".join(f"• {line}" for line in offer.why))
            self.cards.append(card)
            box.add_widget(card)

    def retranslate(self) -> None:
        """Redraw in the new language."""
        self.render()
