"""Sign in, the Branches list, a filter chip, the map and a detail page, on real widgets."""

from __future__ import annotations


def test_sign_in_then_branches_fill_nearest_first(ui, cardholder):
    signin = ui.screen("signin")
    assert ui.current == "signin"
    ui.screenshot("signin")
    ui.sign_in(*cardholder)
    nearby = ui.screen("nearby")
    ui.wait_until(lambda: nearby.rows, "the Branches list")
    distances = [row.place.distance_m for row in nearby.rows]
    assert distances == sorted(distances)
    assert all(row.place.kind == "branch" for row in nearby.rows)
    assert signin.ids.password.text == ""
    ui.screenshot("nearby-branches")


def _signed_in_list(ui, cardholder):
    ui.sign_in(*cardholder)
    nearby = ui.screen("nearby")
    ui.wait_until(lambda: nearby.rows and not nearby.presenter.state.loading, "the list")
    return nearby


def test_a_filter_chip_narrows_the_list(ui, cardholder):
    nearby = _signed_in_list(ui, cardholder)
    before = len(nearby.rows)
    ui.tap(nearby.chips["step_free"])
    ui.wait_until(lambda: "step_free" in nearby.presenter.state.filters
                  and not nearby.presenter.state.loading, "the filtered list")
    assert nearby.chips["step_free"].state == "down"
    assert 0 < len(nearby.rows) < before
    assert all("LevelAccess" in row.place.accessibility for row in nearby.rows)
    ui.screenshot("nearby-filter-step-free")


def test_repay_tab_shows_method_fee_and_cutoff(ui, cardholder):
    nearby = _signed_in_list(ui, cardholder)
    ui.tap(nearby.ids.tab_repay)
    ui.wait_until(lambda: nearby.presenter.state.tab == "repay" and nearby.rows
                  and not nearby.presenter.state.loading, "the repayment points")
    assert set(nearby.chips) == {"open_now", "step_free", "cash", "fee_free"}
    assert all(row.repay.startswith("Repay with") for row in nearby.rows)
    assert any("Fee " in row.repay for row in nearby.rows)
    assert any("Cut-off" in row.repay for row in nearby.rows)
    ui.tap(nearby.chips["fee_free"])
    ui.wait_until(lambda: "fee_free" in nearby.presenter.state.filters
                  and not nearby.presenter.state.loading, "the fee-free points")
    assert nearby.rows and all("No fee" in row.repay for row in nearby.rows)
    ui.screenshot("nearby-repay-fee-free")


def test_a_place_opens_with_its_week_and_directions(ui, cardholder):
    nearby = _signed_in_list(ui, cardholder)
    row = nearby.rows[0]
    ui.tap(row)
    detail = ui.screen("detail")
    ui.wait_until(lambda: ui.current == "detail" and detail.hour_rows, "the week of hours")
    assert detail.ids.name.text == row.place.name
    assert len(detail.hour_rows) == 7
    assert sum(r.today for r in detail.hour_rows) == 1
    assert detail.ids.address.text
    assert "Counter services" in detail.ids.services.text or detail.ids.services.text
    ui.screenshot("detail")
    ui.tap(detail.ids.directions)
    assert ui.opened and ui.opened[0].startswith("geo:")
    ui.tap(detail.ids.back)
    assert ui.current == "nearby"


def test_refresh_button_and_pull_to_refresh_search_again(ui, cardholder):
    nearby = _signed_in_list(ui, cardholder)
    ui.backend.clear_log()
    ui.tap(nearby.ids.refresh)
    ui.wait_until(lambda: ui.backend.paths() == ["/api/v1/branches/nearby"]
                  and not nearby.presenter.state.loading, "a refresh")
    from kivy.tests.common import UnitTestTouch

    scroller = nearby.ids.scroller
    x, y = scroller.to_window(scroller.center_x, scroller.top - 20)
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    for step in range(1, 13):
        ui.frames(1)
        touch.touch_move(x, y - 20 * step)
    ui.frames(1)
    touch.touch_up()
    ui.wait_until(lambda: len(ui.backend.paths()) == 2
                  and not nearby.presenter.state.loading, "a pull to refresh")
    assert ui.backend.paths() == ["/api/v1/branches/nearby"] * 2
    ui.screenshot("nearby-pulled-to-refresh")
