"""Presenters: each screen's state, the actions on it, and notifications to its view."""

from mobile.core.presenters.base import Presenter, error_key
from mobile.core.presenters.detail import DetailPresenter, DetailState, geo_uri
from mobile.core.presenters.nearby import FILTERS, TABS, NearbyPresenter, NearbyState
from mobile.core.presenters.offers import OffersPresenter, OffersState
from mobile.core.presenters.privacy import PrivacyPresenter, PrivacyState
from mobile.core.presenters.session import SessionPresenter, SessionState
from mobile.core.presenters.ticket import REFRESH_SECONDS, TicketPresenter, TicketState

__all__ = [
    "FILTERS", "TABS", "DetailPresenter", "DetailState", "NearbyPresenter", "NearbyState",
    "OffersPresenter", "OffersState", "Presenter", "PrivacyPresenter", "PrivacyState",
    "SessionPresenter", "SessionState", "TicketPresenter", "TicketState", "error_key",
    "geo_uri", "REFRESH_SECONDS",
]
