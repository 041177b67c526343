"""The street map: tiles from a loopback tile server, clustered markers, taps, and the radar."""

from __future__ import annotations

import math

from kivy.tests.common import UnitTestTouch

from mobile.core.tiles import TILE, world_xy
from tests.mobile.conftest import BANK


def _map_with_results(ui, cardholder):
    ui.sign_in(*cardholder)
    nearby = ui.screen("nearby")
    ui.wait_until(lambda: nearby.rows and not nearby.presenter.state.loading, "the list")
    ui.tiles.clear()
    ui.tap(nearby.ids.to_map)  # the list/map toggle
    assert ui.current == "map"
    streets = ui.screen("map").ids.streets
    ui.wait_until(lambda: streets.clusters and ui.core.tiles.loaded >= len(streets.visible()),
                  "the street map's tiles and markers")
    return nearby, streets


def _touch(ui, x, y, to=None):
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    ui.frames(1)
    if to is not None:
        for step in range(1, 6):
            touch.touch_move(x + (to[0] - x) * step / 5, y + (to[1] - y) * step / 5)
            ui.frames(1)
    touch.touch_up()
    ui.frames(2)


def test_tiles_are_fetched_for_the_zoom_and_area_around_the_cardholder(ui, cardholder):
    nearby, streets = _map_with_results(ui, cardholder)
    zoom = int(streets.zoom)
    asked = set(ui.tiles.requests)
    assert asked and {z for z, _, _ in asked} == {zoom}
    # The tile under the cardholder is among them, and none lies outside the view.
    bx, by = world_xy(*BANK, zoom)
    assert (zoom, int(bx // TILE), int(by // TILE)) in asked
    cx, cy = world_xy(streets.center_lat, streets.center_lon, zoom)
    half_w, half_h = streets.width / 2 / streets.scale, streets.height / 2 / streets.scale
    for _, x, y in asked:
        assert x * TILE <= cx + half_w and (x + 1) * TILE >= cx - half_w
        assert y * TILE <= cy + half_h and (y + 1) * TILE >= cy - half_h
    # Every result is on the map (alone or in a cluster), and markers are a finger apart.
    assert sum(len(c.places) for c in streets.clusters) == len(nearby.rows)
    spots = [streets.cluster_pos(c) for c in streets.clusters]
    assert all(math.dist(a, b) >= 48 for i, a in enumerate(spots) for b in spots[i + 1:])
    # The header says what is shown and how it is filtered.
    subtitle = ui.screen("map").ids.subtitle.text
    assert f"{len(nearby.rows)} places" in subtitle and "no filters" in subtitle
    assert streets.you == (BANK[0], BANK[1])
    ui.screenshot("map")


def test_zoom_out_clusters_markers_and_a_cluster_tap_zooms_in(ui, cardholder):
    _, streets = _map_with_results(ui, cardholder)
    screen = ui.screen("map")
    start = int(streets.zoom)
    ui.tap(screen.ids.zoom_out)
    ui.tap(screen.ids.zoom_out)
    assert int(streets.zoom) == start - 2
    ui.wait_until(lambda: any(len(c.places) > 1 for c in streets.clusters), "a cluster")
    ui.wait_until(lambda: all(z == start - 2 for z, _, _ in ui.tiles.requests[-4:]),
                  "tiles at the new zoom")
    ui.screenshot("map-street-clusters")
    big = max(streets.clusters, key=lambda c: len(c.places))
    _touch(ui, *streets.cluster_pos(big))
    assert int(streets.zoom) == start  # a cluster tap zooms in two steps on it
    assert ui.current == "map"
    # Mouse-wheel zoom and a drag pan the map.
    x, y = streets.to_window(*streets.center)
    touch = UnitTestTouch(x, y)
    touch.profile = [*touch.profile, "button"]
    touch.button = "scrolldown"
    streets.on_touch_down(touch)
    assert int(streets.zoom) == start + 1
    before = (streets.center_lat, streets.center_lon)
    _touch(ui, x, y, to=(x + 120, y - 80))
    assert streets.center_lon < before[1] and streets.center_lat > before[0]


def test_a_marker_tap_opens_the_place(ui, cardholder):
    _, streets = _map_with_results(ui, cardholder)
    while not any(c.single for c in streets.clusters) and streets.zoom < 19:
        streets.zoom_by(1)
        ui.frames(3)
    single = next(c for c in streets.clusters if c.single)
    _touch(ui, *streets.cluster_pos(single))
    ui.wait_until(lambda: ui.current == "detail", "the detail page from the map")
    assert ui.core.detail.state.place == single.single


def test_without_tiles_the_radar_stands_in(ui, cardholder):
    ui.tiles.failing = True
    ui.sign_in(*cardholder)
    nearby = ui.screen("nearby")
    ui.wait_until(lambda: nearby.rows and not nearby.presenter.state.loading, "the list")
    ui.go("map")
    screen = ui.screen("map")
    ui.wait_until(lambda: screen.radar_shown, "the radar fallback")
    radar = screen.ids.radar
    ui.wait_until(lambda: radar.markers, "markers on the radar")
    assert len(radar.markers) == len(nearby.rows)
    assert "street map cannot load" in screen.ids.banner.text
    ui.screenshot("map-radar-fallback")
    nearest = radar.markers[0]
    _touch(ui, *radar.marker_pos(nearest))
    ui.wait_until(lambda: ui.current == "detail", "the detail page from the radar")
    assert ui.core.detail.state.place == nearest.place


def test_two_fingers_spread_apart_zoom_in(ui, cardholder):
    _, streets = _map_with_results(ui, cardholder)
    start = int(streets.zoom)
    cx, cy = streets.to_window(*streets.center)
    left, right = UnitTestTouch(cx - 25, cy), UnitTestTouch(cx + 25, cy)
    left.touch_down()
    right.touch_down()
    ui.frames(1)
    for step in range(1, 11):  # the fingers end five times as far apart: two steps in
        right.touch_move(cx + 25 + 10 * step, cy)
        left.touch_move(cx - 25 - 10 * step, cy)
        ui.frames(1)
    right.touch_up()
    left.touch_up()
    ui.frames(2)
    assert int(streets.zoom) == start + 2
    assert ui.current == "map"  # a pinch is not a tap
