"""The Kivy app: builds the screens around an AppCore and moves between them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.core.text import DEFAULT_FONT, LabelBase
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager

from mobile.core.app_core import AppCore
from mobile.core.presenters import SessionState
from mobile.core.runner import ThreadRunner
from mobile.ui import theme
from mobile.ui.base import BaseScreen
from mobile.ui.detail import DetailScreen
from mobile.ui.mapview import MapScreen
from mobile.ui.nearby import NearbyScreen
from mobile.ui.offers import OffersScreen
from mobile.ui.privacy import PrivacyScreen
from mobile.ui.signin import SignInScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

SCREENS: tuple[tuple[str, type[BaseScreen]], ...] = (
    ("signin", SignInScreen), ("nearby", NearbyScreen), ("map", MapScreen),
    ("detail", DetailScreen), ("offers", OffersScreen), ("privacy", PrivacyScreen),
)
NAV_SCREENS = ("nearby", "map", "offers", "privacy")


def post_to_ui(callback: Callable[[], None]) -> None:
    """Run `callback` on the UI thread at the next frame (safe to call from any thread)."""
    Clock.schedule_once(lambda _dt: callback(), 0)


def use_cjk_font() -> str | None:
    """Make a font with Chinese glyphs the default for every label; returns its path."""
    path = theme.cjk_font()
    if path:
        LabelBase.register(DEFAULT_FONT, path)
    return path


class Root(BoxLayout):
    """The screens above a bottom navigation bar (hidden while signed out)."""

    def __init__(self, core: AppCore, **kwargs) -> None:
        super().__init__(**kwargs)
        self.core = core
        manager: ScreenManager = self.ids.manager
        manager.transition = NoTransition()  # instant, like a native tab bar
        self.screens: dict[str, BaseScreen] = {}
        for name, cls in SCREENS:
            screen = cls(core=core, name=name)
            self.screens[name] = screen
            manager.add_widget(screen)
        self._signed_in: bool | None = None
        core.session.subscribe(self._session_changed)

    def _session_changed(self, state: SessionState) -> None:
        if state.signed_in == self._signed_in:
            return
        self._signed_in = state.signed_in
        self.go("nearby" if state.signed_in else "signin")

    def go(self, name: str) -> None:
        """Show a screen (and mark it in the navigation bar)."""
        self.ids.manager.current = name
        for button in self.ids.nav.children:
            button.state = "down" if button.target == name else "normal"


class NearbankApp(App):
    """Nearbank for cardholders."""

    title = "Nearbank"
    lang = StringProperty("en")

    def __init__(self, api_url: str = "http://127.0.0.1:8000", data_dir: str | None = None,
                 core: AppCore | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.api_url = api_url
        self.data_dir = data_dir
        self.core = core
        self.font_path: str | None = None
        self.initial_place: tuple[float, float, str] | None = None

    def build(self) -> Root:
        """Create the core (unless given one) and the screens."""
        self.font_path = use_cjk_font()
        Window.clearcolor = theme.BACKGROUND
        if self.core is None:
            self.core = AppCore(self.api_url, self.data_dir or self.user_data_dir,
                                ThreadRunner(post_to_ui))
        if self.initial_place is not None:
            lat, lon, label = self.initial_place
            self.core.settings.update(place_lat=lat, place_lon=lon, place_label=label)
        return self._make_root()

    def _make_root(self) -> Root:
        self.lang = self.core.settings.current.language
        self.core.translator.language = self.lang
        root = Root(self.core)
        self.core.session.restore()
        return root

    def replace_core(self, core: AppCore) -> Root:
        """Start over with another core (a new launch, as the tests use it)."""
        old_core, old_root = self.core, self.root
        self.core = core
        root = self._make_root()
        if old_root is not None:
            Window.remove_widget(old_root)
        self.root = root
        Window.add_widget(root)
        if old_core is not None and old_core is not core:
            old_core.close()
        return root

    def tr(self, key: str, *_bindings: object, **values: object) -> str:
        """Translate a key; kv passes app.lang so the text follows the language."""
        return self.core.translator.t(key, **values) if self.core else key

    def set_language(self, language: str) -> None:
        """Switch the language of every screen."""
        self.core.privacy.set_language(language)
        self.core.translator.language = language
        self.lang = language
        for screen in self.root.screens.values():
            screen.retranslate()

    def go(self, name: str) -> None:
        """Navigate to a screen by name."""
        self.root.go(name)

    def on_stop(self) -> None:
        """Let running requests finish and close the connections."""
        if self.core is not None:
            if isinstance(self.core.runner, ThreadRunner):
                self.core.runner.shutdown()
            self.core.close()
