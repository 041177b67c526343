"""A remembered session, a position typed by hand, and the backend gone away."""

from __future__ import annotations

from tests.mobile.conftest import BANK


def test_a_remembered_session_opens_straight_on_nearby(ui, cardholder, tmp_path):
    from mobile.core.app_core import AppCore
    from mobile.core.runner import ThreadRunner
    from mobile.ui.app import post_to_ui

    ui.sign_in(*cardholder)
    ui.core.runner.shutdown()
    relaunch = AppCore(ui.backend.url, ui.core.data_dir, ThreadRunner(post_to_ui))
    ui.app.replace_core(relaunch)
    ui.core = relaunch
    ui.frames(3)
    assert ui.current == "nearby"
    ui.wait_until(lambda: ui.screen("nearby").rows, "the list after a relaunch")
    ui.screenshot("relaunch-still-signed-in")
    relaunch.runner.shutdown()


def test_without_a_position_the_app_asks_and_never_guesses(ui, cardholder):
    ui.core.privacy.clear_place()
    ui.sign_in(*cardholder)
    nearby = ui.screen("nearby")
    ui.wait_until(lambda: nearby.asking_place, "the question where you are")
    assert nearby.rows == [] and "does not know where you are" in (
        nearby.ids.location_message.text)
    assert not [r for r in ui.backend.requests() if r.path.endswith("/nearby")]
    ui.screenshot("nearby-no-location")
    ui.type_into(nearby.ids.place_input, "Nowhere Street")  # no such place: said so
    ui.tap(nearby.ids.use_place)
    ui.wait_until(lambda: nearby.presenter.state.location_problem == "not_found", "not found")
    assert "No place matches" in nearby.ids.location_message.text
    ui.type_into(nearby.ids.place_input, f"{BANK[0]}, {BANK[1]}")
    ui.tap(nearby.ids.use_place)
    ui.wait_until(lambda: nearby.rows, "the list from the typed place")
    assert not nearby.asking_place


def test_backend_down_shows_the_offline_banner_and_cached_results(ui, cardholder):
    ui.sign_in(*cardholder)
    nearby = ui.screen("nearby")
    ui.wait_until(lambda: nearby.rows and not nearby.presenter.state.loading, "the list")
    names = [row.name for row in nearby.rows]
    ui.backend.stop()
    ui.tap(nearby.ids.refresh)
    ui.wait_until(lambda: nearby.presenter.state.offline, "the offline state")
    assert nearby.ids.banner.text.startswith("Offline: showing results from just now")
    assert [row.name for row in nearby.rows] == names
    ui.screenshot("nearby-offline")
    ui.go("map")
    assert ui.screen("map").ids.banner.text == nearby.ids.banner.text
    ui.go("offers")
    offers = ui.screen("offers")
    ui.tap(offers.ids.button)
    ui.wait_until(lambda: offers.presenter.state.phase == "error", "the offers error")
    assert offers.cards == [] and "nothing from earlier" in offers.ids.message.text
    ui.screenshot("offers-offline")
