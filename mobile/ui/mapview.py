"""The map: a street map of tiles with clustered markers, and the radar when tiles cannot load.

The street map is a small tile layer of our own rather than kivy-garden's mapview: that one
writes every tile to a cache folder named by zoom/x/y (a record on disk of where the cardholder
looked), polls its downloader on a 60 Hz interval for the life of the app, and swallows tile
errors, so a fallback could not tell that tiles failed. See docs/architecture.md.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

from kivy.clock import Clock
from kivy.core.image import Image as CoreImage
from kivy.core.text import Label as CoreLabel
from kivy.core.window import Window
from kivy.graphics import Color, Ellipse, InstructionGroup, Line, Rectangle
from kivy.graphics.texture import Texture
from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
)
from kivy.uix.label import Label
from kivy.uix.stencilview import StencilView
from kivy.uix.widget import Widget

from mobile.core.describe import place_status
from mobile.core.models import Place
from mobile.core.presenters import NearbyState
from mobile.core.radar import Marker, hit, project, ring_distance
from mobile.core.tiles import (
    MAX_ZOOM,
    MIN_ZOOM,
    TILE,
    Cluster,
    TileKey,
    TileSource,
    cluster,
    fit_zoom,
    lat_lon,
    visible_tiles,
    world_xy,
)
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



class StreetMap(StencilView):
    """Tiles around a centre, the cardholder's position and the results as clustered markers.

    Drag to pan, scroll or pinch to zoom; a tap on a marker opens its place, on a cluster
    zooms in on it. `tiles_failed` turns true when no tile could be loaded.
    """

    zoom = NumericProperty(16)
    center_lat = NumericProperty(0.0)
    center_lon = NumericProperty(0.0)
    you = ObjectProperty(None, allownone=True)  # (lat, lon) of the search, or None
    you_label = ObjectProperty("")
    places = ListProperty()
    tones = ListProperty()
    source: TileSource | None = None
    tiles_failed = BooleanProperty(False)
    active = BooleanProperty(True)  # False while the radar stands in: takes no touches
    moved = BooleanProperty(False)  # the cardholder panned or zoomed since the last fit
    clusters: list[Cluster]

    __events__ = ("on_place",)

    def __init__(self, **kwargs) -> None:
        self.clusters = []
        self._textures: dict[TileKey, Texture] = {}
        self._labels: dict[tuple[str, tuple[float, ...], int], Texture] = {}
        self._touches: list = []
        self._pinch_base: float | None = None
        super().__init__(**kwargs)
        self._tiles = InstructionGroup()
        self._marks = InstructionGroup()
        self.canvas.add(self._tiles)
        self.canvas.add(self._marks)
        self._trigger = Clock.create_trigger(self.redraw, -1)
        self.bind(pos=self._trigger, size=self._trigger, zoom=self._trigger,
                  center_lat=self._trigger, center_lon=self._trigger, places=self._trigger,
                  tones=self._trigger, you=self._trigger)

    # -- geometry ---------------------------------------------------------------------------

    @property
    def scale(self) -> float:
        """Screen pixels per tile pixel (tiles are drawn at their size in dp)."""
        return dp(1)

    def to_screen(self, lat: float, lon: float) -> tuple[float, float]:
        """A position's point in this widget's (parent's) coordinates."""
        cx, cy = world_xy(self.center_lat, self.center_lon, self.zoom)
        x, y = world_xy(lat, lon, self.zoom)
        return (self.center_x + (x - cx) * self.scale, self.center_y - (y - cy) * self.scale)

    def cluster_pos(self, item: Cluster) -> tuple[float, float]:
        """A marker's centre in window coordinates (what a finger touches)."""
        first = item.places[0]
        return self.to_window(*self.to_screen(first.lat, first.lon))

    def show(self, lat: float, lon: float, zoom: int) -> None:
        """Centre the map on a position at a zoom."""
        self.center_lat, self.center_lon = lat, lon
        self.zoom = max(MIN_ZOOM, min(MAX_ZOOM, int(zoom)))

    def zoom_by(self, steps: int, around: tuple[float, float] | None = None) -> None:
        """Zoom in (+) or out (-), keeping the point `around` (widget coordinates) in place."""
        zoom = max(MIN_ZOOM, min(MAX_ZOOM, int(self.zoom) + steps))
        if zoom == self.zoom:
            return
        self.moved = True
        if around is not None:
            ax, ay = around
            cx, cy = world_xy(self.center_lat, self.center_lon, self.zoom)
            wx = cx + (ax - self.center_x) / self.scale
            wy = cy - (ay - self.center_y) / self.scale
            factor = 2 ** (zoom - self.zoom)
            nx = wx * factor - (ax - self.center_x) / self.scale
            ny = wy * factor + (ay - self.center_y) / self.scale
            self.center_lat, self.center_lon = lat_lon(nx, ny, zoom)
        self.zoom = zoom

    def pan(self, dx: float, dy: float) -> None:
        """Move the map with a finger by (dx, dy) screen pixels."""
        self.moved = True
        cx, cy = world_xy(self.center_lat, self.center_lon, self.zoom)
        self.center_lat, self.center_lon = lat_lon(cx - dx / self.scale,
                                                   cy + dy / self.scale, self.zoom)

    # -- drawing ----------------------------------------------------------------------------

    def visible(self) -> list[TileKey]:
        """The tiles the view shows now."""
        if self.width <= 1 or self.height <= 1:
            return []
        return visible_tiles(self.center_lat, self.center_lon, int(self.zoom),
                             self.width / self.scale, self.height / self.scale)

    def redraw(self, *_args) -> None:
        """Draw tiles (asking for missing ones), then markers and the position."""
        self._tiles.clear()
        self._tiles.add(Color(*theme.BACKGROUND))
        self._tiles.add(Rectangle(pos=self.pos, size=self.size))
        size = TILE * self.scale
        for key in self.visible():
            x, y = self.to_screen(*lat_lon(key.x * TILE, key.y * TILE, key.z))
            texture = self._texture(key)
            if texture is None:
                self._tiles.add(Color(*theme.DIVIDER))
                self._tiles.add(Line(rectangle=(x, y - size, size, size), width=1))
                continue
            self._tiles.add(Color(1, 1, 1, 1))
            self._tiles.add(Rectangle(texture=texture, pos=(x, y - size), size=(size, size)))
        self._draw_markers()

    def _texture(self, key: TileKey) -> Texture | None:
        texture = self._textures.get(key)
        if texture is not None or self.source is None:
            return texture
        data = self.source.get(key)
        if data is None:
            self.source.request(key, self._tile_arrived)
            return None
        texture = CoreImage(io.BytesIO(data), ext="png").texture
        self._textures[key] = texture
        if len(self._textures) > 200:  # textures of far-away tiles are made again if needed
            self._textures.pop(next(iter(self._textures)))
        return texture

    def _tile_arrived(self, key: TileKey, data: bytes | None) -> None:
        if data is None:
            if self.source is not None and self.source.loaded == 0:
                self.tiles_failed = True
            return
        self.tiles_failed = False
        if key.z == int(self.zoom):
            self._trigger()

    def _label(self, text: str, color: tuple[float, ...], size: int) -> Texture:
        key = (text, tuple(color), size)
        texture = self._labels.get(key)
        if texture is None:
            label = CoreLabel(text=text, font_size=size, bold=True, color=color)
            label.refresh()
            texture = self._labels[key] = label.texture
        return texture

    def _draw_markers(self) -> None:
        add = self._marks.add
        self._marks.clear()
        tone_of = {p.id: t for p, t in zip(self.places, self.tones, strict=False)}
        # Markers are a finger apart on screen: clustered by 48 dp at the current zoom.
        self.clusters = cluster(self.places, int(self.zoom), dp(theme.TOUCH) / self.scale)
        # The position first, so a marker on top of it stays visible and tappable.
        if self.you is not None:
            x, y = self.to_screen(*self.you)
            add(Color(*theme.WHITE))
            add(Ellipse(pos=(x - dp(11), y - dp(11)), size=(dp(22), dp(22))))
            add(Color(*theme.ACCENT))
            add(Ellipse(pos=(x - dp(8), y - dp(8)), size=(dp(16), dp(16))))
            if self.you_label:
                texture = self._label(self.you_label, theme.TEXT, int(dp(13)))
                # Below the dot, where a marker drawn on the position does not cover it.
                top = y - dp(14)
                add(Color(*theme.WHITE))
                add(Rectangle(pos=(x - texture.width / 2 - dp(4), top - texture.height - dp(4)),
                              size=(texture.width + dp(8), texture.height + dp(4))))
                add(Color(1, 1, 1, 1))
                add(Rectangle(texture=texture, size=texture.size,
                              pos=(x - texture.width / 2, top - texture.height - dp(2))))
        radius = dp(16)
        for item in self.clusters:
            x, y = self.to_screen(item.places[0].lat, item.places[0].lon)
            single = item.single
            tone = tone_of.get(single.id, "unknown") if single else "unknown"
            fill = theme.TONES[tone] if single else theme.PRIMARY
            add(Color(*theme.WHITE))
            add(Ellipse(pos=(x - radius - dp(2), y - radius - dp(2)),
                        size=(2 * radius + dp(4), 2 * radius + dp(4))))
            add(Color(*fill))
            add(Ellipse(pos=(x - radius, y - radius), size=(2 * radius, 2 * radius)))
            # The symbol (or the count) tells what colour alone would not.
            text = theme.TONE_ICONS[tone] if single else str(len(item.places))
            texture = self._label(text, theme.WHITE, int(dp(14)))
            add(Color(1, 1, 1, 1))
            add(Rectangle(texture=texture, size=texture.size,
                          pos=(x - texture.width / 2, y - texture.height / 2)))

    # -- touch ------------------------------------------------------------------------------

    def on_touch_down(self, touch):  # type: ignore[override]
        if not self.active or not self.collide_point(*touch.pos):
            return False
        if touch.is_mouse_scrolling:
            self.zoom_by(1 if touch.button == "scrolldown" else -1, around=touch.pos)
            return True
        if super().on_touch_down(touch):
            return True
        touch.grab(self)
        touch.ud["map-start"] = touch.pos
        self._touches.append(touch)
        # A second finger starts a pinch, measured from where both fingers are now.
        self._pinch_base = (_spread(*self._touches[:2]) if len(self._touches) == 2 else None)
        return True

    def on_touch_move(self, touch):  # type: ignore[override]
        if touch.grab_current is not self:
            return super().on_touch_move(touch)
        if len(self._touches) >= 2:
            a, b = self._touches[:2]
            spread = _spread(a, b)
            if self._pinch_base is None:
                self._pinch_base = spread
            elif spread > 0 and abs(math.log2(spread / self._pinch_base)) >= 1:
                middle = self.to_widget((a.sx + b.sx) / 2 * Window.width,
                                        (a.sy + b.sy) / 2 * Window.height)
                self.zoom_by(1 if spread > self._pinch_base else -1,
                             around=self.to_parent(*middle))
                self._pinch_base = spread
            return True
        self.pan(touch.dx, touch.dy)
        return True

    def on_touch_up(self, touch):  # type: ignore[override]
        if touch.grab_current is not self:
            return super().on_touch_up(touch)
        touch.ungrab(self)
        was_pinch = len(self._touches) > 1
        if touch in self._touches:
            self._touches.remove(touch)
        start = touch.ud.get("map-start", touch.pos)
        if not was_pinch and math.dist(start, touch.pos) < dp(10):
            self._tap(touch.pos)
        return True

    def _tap(self, pos: tuple[float, float]) -> None:
        best, best_d = None, dp(theme.TOUCH) / 2
        for item in self.clusters:
            x, y = self.to_screen(item.places[0].lat, item.places[0].lon)
            d = math.dist((x, y), pos)
            if d <= best_d:
                best, best_d = item, d
        if best is None:
            return
        if best.single is not None:
            self.dispatch("on_place", best.single)
        else:
            self.zoom_by(2, around=self.to_screen(best.places[0].lat, best.places[0].lon))

    def on_place(self, place: Place) -> None:
        """A place's marker was tapped."""


def _spread(a, b) -> float:
    """Two fingers' distance in window pixels (their `pos` may be in different local frames)."""
    return math.hypot((a.sx - b.sx) * Window.width, (a.sy - b.sy) * Window.height)


def filters_text(screen: BaseScreen, state: NearbyState) -> str:
    """The active filters in words, or "no filters"."""
    if not state.filters:
        return screen.t("map.no_filters")
    return ", ".join(screen.t(f"filter.{f}") for f in sorted(state.filters))


FIT_NEAREST = 8


class MapScreen(BaseScreen):
    """The same results as the Nearby list on a street map (the radar if tiles fail)."""

    radar_shown = BooleanProperty(False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.presenter = self.core.nearby
        self._fitted: tuple | None = None
        streets = self.ids.streets
        streets.source = self.core.tiles
        streets.bind(tiles_failed=lambda _w, failed: self._tiles_failed(failed),
                     size=lambda *_args: self.render())
        self.presenter.subscribe(self.render)

    def on_enter(self, *args) -> None:
        """Redraw (ages change); the map never fetches results by itself."""
        self.render()

    def open_place(self, place) -> None:
        """A marker was tapped."""
        self.core.detail.open(place)
        self.manager.get_screen("detail").came_from = "map"
        self.app.go("detail")

    def _tiles_failed(self, failed: bool) -> None:
        self.radar_shown = failed
        self.render()

    def render(self, state: NearbyState | None = None) -> None:
        """Hand the results to the street map (and the radar), and caption them."""
        state = state or self.presenter.state
        now = self.core.now()
        tones = [place_status(self.core.translator, p, now)[1] for p in state.places]
        streets = self.ids.streets
        streets.you_label = self.t("map.you")
        fix = state.location
        streets.you = (fix.lat, fix.lon) if fix else None
        streets.tones = tones
        streets.places = list(state.places)
        # A new set of results is shown whole, around the cardholder; after that the map
        # stays where the finger put it.
        key = (fix.lat, fix.lon, state.places, tuple(streets.size)) if fix else None
        if key is not None and key != self._fitted and streets.width > 1 and (
                self._fitted is None or key[:3] != self._fitted[:3] or not streets.moved):
            if self._fitted is not None and key[:3] != self._fitted[:3]:
                streets.tiles_failed = False  # new results: try the street map again
            self._fitted = key
            streets.moved = False
            # Street level around the nearest few; the count says how many more there are.
            zoom = fit_zoom(fix.lat, fix.lon, state.places[:FIT_NEAREST],
                            streets.width / streets.scale, streets.height / streets.scale)
            streets.show(fix.lat, fix.lon, zoom)
        radar = self.ids.radar
        radar.tones = tones
        radar.places = list(state.places)
        radar.redraw()
        tab = self.t("nearby.tab_branches" if state.tab == "branches" else "nearby.tab_repay")
        self.ids.subtitle.text = tab + " · " + self.t(
            "map.count", n=len(state.places), filters=filters_text(self, state))
        banner = offline_banner(self, state)
        if self.radar_shown:
            banner = " ".join(b for b in (banner, self.t("map.tiles_failed")) if b)
        self.ids.banner.text = banner
        if not state.places:
            radar.set_ring_text("")
            self.ids.caption.text = self.t("map.empty")
        elif self.radar_shown:
            distance = self.core.translator.distance(radar.ring_m)
            radar.set_ring_text(distance)
            self.ids.caption.text = (self.t("map.ring", distance=distance) + " · "
                                     + self.t("map.hint"))
        else:
            self.ids.caption.text = self.t("map.attribution")

    def retranslate(self) -> None:
        """Redraw in the new language."""
        self.render()
