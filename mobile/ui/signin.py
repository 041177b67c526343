"""Sign in with a cardholder's e-mail address and password."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

from mobile.core.presenters import SessionState
from mobile.ui.base import BaseScreen
from mobile.ui.widgets import Text  # noqa: F401 - registers the widgets the kv uses

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class SignInScreen(BaseScreen):
    """The first screen while nobody is signed in."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.presenter = self.core.session
        self.presenter.subscribe(self.render)

    def sign_in(self) -> None:
        """The Sign in button."""
        self.presenter.sign_in(self.ids.email.text, self.ids.password.text)

    def render(self, state: SessionState | None = None) -> None:
        """Show progress, errors and notices."""
        state = state or self.presenter.state
        ids = self.ids
        ids.button.text = self.t("signin.busy" if state.busy else "signin.button")
        ids.button.enabled = not state.busy
        message = state.error or state.notice
        ids.message.text = self.t(message) if message else ""
        if not state.signed_in:
            ids.password.text = ""  # never leave a password in a field after sign-out

    def retranslate(self) -> None:
        """Redraw texts set in Python."""
        self.render()
