"""The map without internet: you at the centre, places by bearing and distance, a scale ring."""

from __future__ import annotations

from pathlib import Path

from kivy.graphics import Color, Ellipse, InstructionGroup, Line
from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import ListProperty, NumericProperty, ObjectProperty
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from mobile.core.describe import place_status
from mobile.core.presenters import NearbyState
from mobile.core.radar import Marker, hit, project, ring_distance
from mobile.ui import theme
from mobile.ui.base import BaseScreen
from mobile.ui.nearby import offline_banner

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class Radar(Widget):
    """Draws the results around the centre; a tap near a marker opens that place."""

    places = ListProperty()
    tones = ListProperty()
    ring_m = NumericProperty(0.0)
    ring_label = ObjectProperty(None, allownone=True)
    markers: list[Marker]

    __events__ = ("on_place",)

    def __init__(self, **kwargs) -> None:
        self.markers = []
        super().__init__(**kwargs)
        self._drawing = InstructionGroup()
        self.canvas.before.add(self._drawing)
        self._north = Label(text="N", bold=True, color=theme.MUTED, font_size="13sp",
                            size_hint=(None, None), size=(dp(20), dp(20)))
        self._ring_text = Label(color=theme.PRIMARY, font_size="12sp", bold=True,
                                size_hint=(None, None), size=(dp(90), dp(20)))
        self.add_widget(self._north)
        self.add_widget(self._ring_text)
        self.bind(pos=self.redraw, size=self.redraw, places=self.redraw, tones=self.redraw)

    @property
    def ring_px(self) -> float:
        """The scale ring's radius on screen."""
        return max(dp(40), min(self.width, self.height) / 2 - dp(28))

    def marker_pos(self, marker: Marker) -> tuple[float, float]:
        """A marker's centre in window coordinates."""
        return self.to_window(self.center_x + marker.dx, self.center_y + marker.dy)

    def redraw(self, *_args) -> None:
        """Draw rings, the centre and one dot per place."""
        self._drawing.clear()
        cx, cy = self.center
        ring = self.ring_px
        self.ring_m = ring_distance(self.places)
        self.markers = project(self.places, self.ring_m, ring)
        add = self._drawing.add
        add(Color(*theme.CARD))
        add(Ellipse(pos=(cx - ring - dp(14), cy - ring - dp(14)),
                    size=(2 * ring + dp(28), 2 * ring + dp(28))))
        add(Color(*theme.LINE))
        add(Line(circle=(cx, cy, ring / 2), width=dp(1)))
        add(Line(points=[cx - ring, cy, cx + ring, cy], width=dp(0.7)))
        add(Line(points=[cx, cy - ring, cx, cy + ring], width=dp(0.7)))
        add(Color(*theme.ACCENT))
        add(Line(circle=(cx, cy, ring), width=dp(1.4)))
        for marker, tone in zip(self.markers, self.tones, strict=False):
            add(Color(*theme.WHITE))
            add(Ellipse(pos=(cx + marker.dx - dp(8), cy + marker.dy - dp(8)),
                        size=(dp(16), dp(16))))
            add(Color(*theme.TONES.get(tone, theme.PRIMARY)))
            add(Ellipse(pos=(cx + marker.dx - dp(6), cy + marker.dy - dp(6)),
                        size=(dp(12), dp(12))))
        add(Color(*theme.PRIMARY))
        add(Ellipse(pos=(cx - dp(9), cy - dp(9)), size=(dp(18), dp(18))))
        add(Color(*theme.WHITE))
        add(Ellipse(pos=(cx - dp(4), cy - dp(4)), size=(dp(8), dp(8))))
        self._north.center = (cx, cy + ring + dp(10))
        self._ring_text.center = (cx + ring * 0.72 + dp(30), cy + ring * 0.72)

    def set_ring_text(self, text: str) -> None:
        """The scale ring's distance, written beside it."""
        self._ring_text.text = text

    def on_touch_up(self, touch):  # type: ignore[override]
        if self.collide_point(*touch.pos) and self.markers:
            place = hit(self.markers, touch.x - self.center_x, touch.y - self.center_y, dp(18))
            if place is not None:
                self.dispatch("on_place", place)
                return True
        return super().on_touch_up(touch)

    def on_place(self, place) -> None:
        """A place was tapped."""


class MapScreen(BaseScreen):
    """The same results as the Nearby list, drawn around the user."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.presenter = self.core.nearby
        self.presenter.subscribe(self.render)

    def on_enter(self, *args) -> None:
        """Redraw (ages change); the map never fetches by itself."""
        self.render()

    def open_place(self, place) -> None:
        """A marker was tapped."""
        self.core.detail.open(place)
        self.manager.get_screen("detail").came_from = "map"
        self.app.go("detail")

    def render(self, state: NearbyState | None = None) -> None:
        """Hand the results to the radar and caption it."""
        state = state or self.presenter.state
        now = self.core.now()
        radar = self.ids.radar
        radar.tones = [place_status(self.core.translator, p, now)[1] for p in state.places]
        radar.places = list(state.places)
        radar.redraw()
        tab = self.t("nearby.tab_branches" if state.tab == "branches" else "nearby.tab_repay")
        self.ids.subtitle.text = tab
        self.ids.banner.text = offline_banner(self, state)
        if state.places:
            distance = self.core.translator.distance(radar.ring_m)
            radar.set_ring_text(distance)
            self.ids.caption.text = (self.t("map.ring", distance=distance) + " · "
                                     + self.t("map.hint"))
        else:
            radar.set_ring_text("")
            self.ids.caption.text = self.t("map.empty")

    def retranslate(self) -> None:
        """Redraw in the new language."""
        self.render()
