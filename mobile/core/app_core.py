"""Everything the app is, minus its widgets: one object a UI (or a test) drives."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from mobile.core.api import ApiClient
from mobile.core.cache import NearbyCache
from mobile.core.i18n import Translator
from mobile.core.location import (
    DeviceLocationProvider,
    GpsLocationProvider,
    LocationProvider,
    gps_available,
)
from mobile.core.platform_ import UriOpener, open_uri
from mobile.core.presenters import (
    DetailPresenter,
    NearbyPresenter,
    OffersPresenter,
    PrivacyPresenter,
    SessionPresenter,
    TicketPresenter,
)
from mobile.core.runner import Runner
from mobile.core.settings import SettingsStore
from mobile.core.tiles import DEFAULT_TILE_URL, TileSource
from mobile.core.tokens import TokenStore, default_token_store


class AppCore:
    """The API client, stores and presenters of one app run, wired together."""

    def __init__(self, api_url: str, data_dir: str | Path, runner: Runner, *,
                 tokens: TokenStore | None = None, location: LocationProvider | None = None,
                 uri_opener: UriOpener = open_uri, tile_url: str | None = None,
                 tile_runner: Runner | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.runner = runner
        self.settings = SettingsStore(self.data_dir / "settings.json")
        self.translator = Translator(self.settings.current.language)
        self.cache = NearbyCache(self.data_dir / "cache")
        self.api = ApiClient(api_url, tokens or default_token_store(self.data_dir),
                             language=self.settings.current.language)
        if location is None:
            gps = GpsLocationProvider() if gps_available() else None
            location = DeviceLocationProvider(lambda: self.settings.current.place(), gps)
        self.location = location
        self.now = now

        self.session = SessionPresenter(self.api, runner)
        self.nearby = NearbyPresenter(self.api, runner, location, self.settings, self.cache, now)
        # The UI sets `clipboard` to the platform's (kivy is not imported here).
        self.clipboard: Callable[[str], None] = lambda _text: None
        self.detail = DetailPresenter(self.api, runner, uri_opener,
                                      lambda text: self.clipboard(text))
        self.offers = OffersPresenter(self.api, runner, location, self.settings,
                                      self.session.session_ended, now)
        self.privacy = PrivacyPresenter(self.api, runner, self.settings,
                                        self.data_dir / "exports", self.session.session_ended,
                                        now)
        self.ticket = TicketPresenter(self.api, runner, self.session.session_ended, now)
        # The street map's tiles: the configured server (NEARBANK_TILES, or OpenStreetMap's).
        self.tiles = TileSource(tile_url or os.environ.get("NEARBANK_TILES") or DEFAULT_TILE_URL,
                                tile_runner or runner)
        # Signing out forgets what this device kept of the session: results and offers.
        self.session.on_signed_out(self.cache.clear)
        self.session.on_signed_out(self.nearby.reset)
        self.session.on_signed_out(self.offers.clear)
        self.session.on_signed_out(self.ticket.clear)

    def close(self) -> None:
        """Release the HTTP connections."""
        self.api.close()
        self.tiles.close()
