"""What every screen shares: the app's core, translation, and navigation."""

from __future__ import annotations

from kivy.app import App
from kivy.uix.screenmanager import Screen

from mobile.core.app_core import AppCore


class BaseScreen(Screen):
    """A screen bound to the app's core; `retranslate` redraws text built in Python."""

    def __init__(self, core: AppCore, **kwargs) -> None:
        self.core = core
        super().__init__(**kwargs)

    @property
    def app(self) -> App:
        """The running app."""
        return App.get_running_app()

    def t(self, key: str, **values: object) -> str:
        """Translate a catalogue key."""
        return self.core.translator.t(key, **values)

    def retranslate(self) -> None:
        """Called after a language change: rebuild any text that kv does not bind."""
