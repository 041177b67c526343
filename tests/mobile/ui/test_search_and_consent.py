"""Search by place name or postcode, the app's language on every request, and the promotions
notice read before opting in: driven through the real widgets against the live backend."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from tests.backend.fake_nominatim import FOUND
from tests.mobile.ui.test_accessible_layout import layout_problems

UNDERSTOOD = "10, Dean Street, Soho"  # the first three parts of the fake Nominatim's answer


def _list_ready(ui):
    nearby = ui.screen("nearby")
    ui.wait_until(lambda: nearby.rows and not nearby.presenter.state.loading, "the list")
    return nearby


def _search(ui, text: str) -> None:
    nearby = ui.screen("nearby")
    if not nearby.asking_place:
        ui.tap(nearby.ids.search_place)
    ui.wait_until(lambda: nearby.asking_place, "the search box")
    ui.type_into(nearby.ids.place_input, text)
    ui.tap(nearby.ids.use_place)


def test_without_a_position_a_place_name_finds_places_and_says_where(ui, cardholder):
    ui.core.settings.update(place_lat=None, place_lon=None, place_label=None)
    ui.sign_in(*cardholder)
    nearby = ui.screen("nearby")
    ui.wait_until(lambda: nearby.presenter.state.location_problem == "not_set", "no position")
    assert nearby.asking_place  # no GPS fix: the search box is open by itself
    ui.backend.clear_log()
    _search(ui, "Bank station, London")
    ui.wait_until(lambda: nearby.presenter.state.location is not None
                  and not nearby.presenter.state.loading, "the search near the place found")
    assert nearby.ids.where.text == f"Showing places near: {UNDERSTOOD}"
    assert not nearby.asking_place
    geocode, search = ui.backend.requests()[:2]
    assert geocode.path == "/api/v1/geocode"
    assert parse_qs(geocode.query)["q"] == ["Bank station, London"]
    assert search.path == "/api/v1/branches/nearby"
    sent = parse_qs(search.query)
    # The point found, at the precision the cardholder chose (100 m: 3 decimals).
    assert (float(sent["lat"][0]), float(sent["lon"][0])) == (
        round(float(FOUND["lat"]), 3), round(float(FOUND["lon"]), 3))
    assert ui.core.settings.current.place_label == UNDERSTOOD


def test_with_a_position_the_cardholder_can_search_a_place(ui, cardholder):
    ui.sign_in(*cardholder)
    nearby = _list_ready(ui)
    assert not nearby.asking_place
    ui.tap(nearby.ids.search_place)
    ui.wait_until(lambda: nearby.asking_place, "the search box")
    ui.type_into(nearby.ids.place_input, "EC2R 8AH")
    nearby.ids.place_input.focus = False
    ui.screenshot("search-place-box")
    ui.tap(nearby.ids.use_place)
    ui.wait_until(lambda: nearby.ids.where.text.endswith(UNDERSTOOD)
                  and not nearby.presenter.state.loading, "the place found")
    ui.wait_until(lambda: nearby.rows, "the places near it")
    ui.screenshot("search-place-name")


def test_a_place_nobody_knows_is_said_so(ui, cardholder):
    ui.sign_in(*cardholder)
    nearby = _list_ready(ui)
    before = ui.core.settings.current.place()
    _search(ui, "Nowhere Street")
    ui.wait_until(lambda: nearby.presenter.state.location_problem == "not_found", "not found")
    assert nearby.asking_place
    assert nearby.ids.location_message.text.startswith("No place matches")
    assert ui.core.settings.current.place() == before  # the last place is kept


def test_every_request_carries_the_apps_language(ui, cardholder):
    ui.sign_in(*cardholder)
    _list_ready(ui)
    assert {r.language for r in ui.backend.requests()} == {"en"}
    ui.go("privacy")
    privacy = ui.screen("privacy")
    # The privacy screen's own request (in English) is answered before the language changes.
    ui.wait_until(lambda: ui.core.privacy.state.consent is not None, "the consent")
    ui.tap(privacy.language_chips["zh_CN"])
    ui.backend.clear_log()
    ui.go("nearby")
    nearby = ui.screen("nearby")
    ui.tap(nearby.ids.tab_repay)
    ui.wait_until(lambda: nearby.presenter.state.tab == "repay" and nearby.rows
                  and not nearby.presenter.state.loading, "the repayment points")
    languages = {r.language for r in ui.backend.requests()}
    assert languages == {"zh-CN, zh;q=0.9, en;q=0.5"}
    ui.go("offers")
    ui.tap(ui.screen("offers").ids.button)
    ui.wait_until(lambda: ui.screen("offers").promotions_off, "the explanation")
    assert {r.language for r in ui.backend.requests()} == languages


def test_the_notice_is_shown_in_the_apps_language_and_declining_sends_nothing(ui, cardholder):
    ui.sign_in(*cardholder)
    ui.go("privacy")
    privacy = ui.screen("privacy")
    ui.tap(privacy.language_chips["zh_CN"])
    ui.wait_until(lambda: ui.core.privacy.state.consent is not None, "the consent")
    ui.tap(privacy.category_chips["dining"])
    ui.tap(privacy.ids.promotions_button)
    ui.wait_until(lambda: privacy.reading_notice, "the notice")
    notice = ui.backend.call("GET", "/privacy/notices/promotions")
    assert privacy.ids.notice_title.text == notice["texts"]["zh-Hans"]["title"]
    assert privacy.ids.notice_body.text == notice["texts"]["zh-Hans"]["body"]
    assert notice["version"] in privacy.ids.notice_version.text
    ui.screenshot("consent-notice-zh")
    ui.tap(privacy.ids.decline)
    assert not privacy.reading_notice
    assert not [r for r in ui.backend.requests() if r.method == "PUT"]
    token = ui.backend.login(*cardholder)
    assert ui.backend.call("GET", "/me/consent", token)["promotions_enabled"] is False


def _fits(ui, where: str) -> None:
    ui.frames(4)
    problems = layout_problems(ui.root)
    assert not problems, f"{where}: " + "; ".join(problems[:8])


@pytest.mark.parametrize("language", ["en", "zh_CN"])
@pytest.mark.parametrize("scale", [1.0, 1.5, 2.0])
def test_search_and_notice_fit_at_large_text(ui, cardholder, scale, language):
    ui.app.set_font_scale(scale)
    ui.app.set_language(language)
    ui.sign_in(*cardholder)
    nearby = _list_ready(ui)
    ui.tap(nearby.ids.search_place)
    ui.wait_until(lambda: nearby.asking_place, "the search box")
    _fits(ui, "search box")
    _search(ui, "Nowhere Street")
    ui.wait_until(lambda: nearby.presenter.state.location_problem == "not_found", "not found")
    _fits(ui, "place not found")
    ui.go("privacy")
    privacy = ui.screen("privacy")
    ui.wait_until(lambda: ui.core.privacy.state.consent is not None, "the consent")
    ui.tap(privacy.category_chips["cafes"])
    ui.tap(privacy.ids.promotions_button)
    ui.wait_until(lambda: privacy.reading_notice, "the notice")
    for position in (1, 0.5, 0):
        privacy.ids.scroller.scroll_y = position
        _fits(ui, f"notice at {position}")
