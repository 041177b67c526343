"""Shared widgets: text, buttons, chips, tabs, cards, banner, direction arrow, pull-to-refresh."""

from __future__ import annotations

from pathlib import Path

from kivy.animation import Animation
from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior, ToggleButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from mobile.ui import theme


class Text(Label):
    """A wrapping label whose height follows its text."""

    tone = ColorProperty(theme.TEXT)


class Title(Text):
    """A screen or card title."""


class Caption(Text):
    """Small, muted text."""


class AppButton(ButtonBehavior, Label):
    """A flat rounded button; `kind` is primary, secondary, danger or link."""

    kind = StringProperty("primary")
    enabled = BooleanProperty(True)
    wrap = BooleanProperty(True)  # long labels wrap inside the button, which grows to fit
    shown = BooleanProperty(True)  # hidden buttons fold to nothing and take no touches

    def on_enabled(self, _widget: Widget, value: bool) -> None:
        self.disabled = not value or not self.shown

    def on_shown(self, _widget: Widget, value: bool) -> None:
        self.disabled = not value or not self.enabled


class Chip(ToggleButtonBehavior, Label):
    """A filter chip: on or off (a tick shows "on" beside the fill colour)."""

    key = StringProperty("")
    label = StringProperty("")


class Tab(ToggleButtonBehavior, Label):
    """A tab of a two-tab bar; always one selected."""

    key = StringProperty("")


class NavButton(ToggleButtonBehavior, Label):
    """A button of the bottom navigation bar."""

    target = StringProperty("")


class Card(BoxLayout):
    """A white rounded panel."""

    fill = ColorProperty(theme.CARD)


class TappableCard(ButtonBehavior, Card):
    """A card that opens something when tapped."""

    payload = ObjectProperty(None, allownone=True)


class Collapsible(BoxLayout):
    """A vertical box that folds to nothing when not `shown`, and then takes no touches."""

    shown = BooleanProperty(False)
    fill = ColorProperty((0, 0, 0, 0))

    def on_touch_down(self, touch):  # type: ignore[override]
        # Folded children overflow the zero-height box; they must not catch touches.
        return super().on_touch_down(touch) if self.shown else False

    def on_touch_move(self, touch):  # type: ignore[override]
        return super().on_touch_move(touch) if self.shown else False

    def on_touch_up(self, touch):  # type: ignore[override]
        return super().on_touch_up(touch) if self.shown else False


class Banner(BoxLayout):
    """A warning strip (offline); collapses to nothing when it has no text."""

    text = StringProperty("")


class DirectionArrow(Widget):
    """An arrow pointing along a bearing (0 = north = up)."""

    bearing = NumericProperty(0.0)
    shown = BooleanProperty(True)
    tint = ColorProperty(theme.PRIMARY)


class BusyIndicator(Widget):
    """A turning arc shown while something loads (it stops and hides when not `active`)."""

    active = BooleanProperty(False)
    angle = NumericProperty(0.0)

    def on_active(self, _widget: Widget, active: bool) -> None:
        Animation.cancel_all(self, "angle")
        if active:
            self.angle = 0
            spin = Animation(angle=360, duration=0.9)
            spin.repeat = True
            spin.start(self)


class PullToRefresh(ScrollView):
    """A ScrollView that dispatches `on_pull` when pulled down past its top and released."""

    threshold = NumericProperty(dp(70))
    __events__ = ("on_pull",)

    def on_touch_move(self, touch):  # type: ignore[override]
        handled = super().on_touch_move(touch)
        # The damped effect lets the content travel past its top while the finger pulls it.
        if self.effect_y is not None and self.collide_point(*touch.pos):
            touch.ud[self._pull_key] = -self.effect_y.overscroll > self.threshold
        return handled

    def on_touch_up(self, touch):  # type: ignore[override]
        pulled = touch.ud.pop(self._pull_key, False) and self.effect_y is not None and (
            -self.effect_y.overscroll > self.threshold)
        handled = super().on_touch_up(touch)
        if pulled:
            self.dispatch("on_pull")
        return handled

    @property
    def _pull_key(self) -> str:
        return f"nearbank-pull-{id(self)}"

    def on_pull(self) -> None:
        """Called when the user pulls the list down to refresh."""


Builder.load_file(str(Path(__file__).with_name("widgets.kv")))
