"""The Kivy app: builds the screens around an AppCore and moves between them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.core.clipboard import Clipboard
from kivy.core.text import DEFAULT_FONT, LabelBase
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.metrics import Metrics, dp
from kivy.properties import NumericProperty, StringProperty
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
from mobile.ui.ticket import TicketScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

SCREENS: tuple[tuple[str, type[BaseScreen]], ...] = (
    ("signin", SignInScreen), ("nearby", NearbyScreen), ("map", MapScreen),
    ("detail", DetailScreen), ("offers", OffersScreen), ("privacy", PrivacyScreen),
    ("ticket", TicketScreen),
)
NAV_SCREENS = ("nearby", "map", "offers", "privacy")


def post_to_ui(callback: Callable[[], None]) -> None:
    """Run `callback` on the UI thread at the next frame (safe to call from any thread)."""
    Clock.schedule_once(lambda _dt: callback(), 0)


def use_cjk_font() -> str | None:
    """Make a font family with Chinese glyphs and a real bold face the default for every label;
    returns the regular face's path."""
    family = theme.font_family()
    if family is None:
        return None
    regular, bold = family
    LabelBase.register(DEFAULT_FONT, regular, fn_bold=bold)
    return regular


# The device's own text size (Android's font scale, or KIVY_METRICS_FONTSCALE), read once before
# the app sets its own.
SYSTEM_FONT_SCALE: float | None = None


def apply_font_scale(scale: float | None) -> float:
    """Scale every 'sp' size: `scale`, or the device's own text size when None; returns it."""
    global SYSTEM_FONT_SCALE
    if SYSTEM_FONT_SCALE is None:
        SYSTEM_FONT_SCALE = float(Metrics.fontscale)
    value = scale if scale is not None else SYSTEM_FONT_SCALE
    if Metrics.fontscale != value:
        Metrics.fontscale = value
    return value


class Root(BoxLayout):
    """The screens above a bottom navigation bar (hidden while signed out)."""

    nav_height = NumericProperty(dp(56))

    def __init__(self, core: AppCore, **kwargs) -> None:
        super().__init__(**kwargs)
        self.core = core
        for button in self.ids.nav.children:  # the bar grows with its labels at large text
            button.bind(texture_size=self._fit_nav)
        manager: ScreenManager = self.ids.manager
        manager.transition = NoTransition()  # instant, like a native tab bar
        self.screens: dict[str, BaseScreen] = {}
        for name, cls in SCREENS:
            screen = cls(core=core, name=name)
            self.screens[name] = screen
            manager.add_widget(screen)
        self._signed_in: bool | None = None
        core.session.subscribe(self._session_changed)

    def _fit_nav(self, *_args) -> None:
        tallest = max(b.texture_size[1] for b in self.ids.nav.children)
        self.nav_height = max(dp(56), tallest + dp(16))

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
                 core: AppCore | None = None, tile_url: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.api_url = api_url
        self.tile_url = tile_url
        self.data_dir = data_dir
        self.core = core
        self.font_path: str | None = None
        self.initial_place: tuple[float, float, str] | None = None

    def build(self) -> Root:
        """Create the core (unless given one) and the screens."""
        self.font_path = use_cjk_font()
        Window.clearcolor = theme.BACKGROUND
        if self.core is None:
            # Tiles get their own threads, so a slow tile server never delays a search.
            self.core = AppCore(self.api_url, self.data_dir or self.user_data_dir,
                                ThreadRunner(post_to_ui), tile_url=self.tile_url,
                                tile_runner=ThreadRunner(post_to_ui, workers=4))
        if self.initial_place is not None:
            lat, lon, label = self.initial_place
            self.core.settings.update(place_lat=lat, place_lon=lon, place_label=label)
        return self._make_root()

    def _make_root(self) -> Root:
        apply_font_scale(self.core.settings.current.font_scale)
        self.core.clipboard = Clipboard.copy
        self.lang = self.core.settings.current.language
        self.core.translator.language = self.lang
        root = Root(self.core)
        self.core.session.restore()
        return root

    def replace_core(self, core: AppCore) -> Root:
        """Start over with another core (a new launch, as the tests use it)."""
        self.on_pause()  # the old screens' ticket refresh must not outlive them
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

    def set_font_scale(self, scale: float | None) -> None:
        """Change the text size (None: follow the device) and remember it."""
        self.core.settings.update(font_scale=scale)
        self.core.privacy.refresh_settings()
        apply_font_scale(scale)

    def go(self, name: str) -> None:
        """Navigate to a screen by name."""
        self.root.go(name)

    def _ticket_screen(self) -> TicketScreen | None:
        if self.root is None or not self.root.ids.manager.has_screen("ticket"):
            return None
        return self.root.ids.manager.get_screen("ticket")

    def on_pause(self) -> bool:
        """In the background the ticket is not on show: stop refreshing it."""
        screen = self._ticket_screen()
        if screen is not None:
            screen.on_leave()
        return True

    def on_resume(self) -> None:
        """Back in front: refresh the ticket again if it is the screen shown."""
        screen = self._ticket_screen()
        if screen is not None and self.root.ids.manager.current == "ticket":
            screen.on_enter()

    def on_stop(self) -> None:
        """Stop the ticket's refresh, let running requests finish, close the connections."""
        self.on_pause()
        if self.core is not None:
            if isinstance(self.core.runner, ThreadRunner):
                self.core.runner.shutdown()
            self.core.close()
