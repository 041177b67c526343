"""Detail actions (call, copy, directions that always lead somewhere, 24-hour days, scroll
reset) and honest states (loading, slow versus offline, an empty result that helps)."""

from __future__ import annotations

import json


def _list(ui, cardholder):
    ui.sign_in(*cardholder)
    nearby = ui.screen("nearby")
    ui.wait_until(lambda: nearby.rows and not nearby.presenter.state.loading, "the list")
    return nearby


def _open(ui, row):
    detail = ui.screen("detail")
    ui.tap(row)
    ui.wait_until(lambda: ui.current == "detail" and detail.hour_rows
                  and ui.core.detail.state.place == row.place, "the detail")
    return detail


def test_call_copy_address_and_directions_always_lead_somewhere(ui, cardholder):
    from kivy.core.clipboard import Clipboard

    nearby = _list(ui, cardholder)
    row = next(r for r in nearby.rows if r.place.phone)
    detail = _open(ui, row)
    assert "min walk" in detail.ids.away.text
    ui.screenshot("detail-call")
    # A phone: the dialer gets a tel: URI with the number.
    ui.tap(detail.ids.call)
    assert ui.opened[-1] == "tel:" + row.place.phone.replace(" ", "")
    # A desktop without a dialer or maps app: the number, address and map link are copied and
    # the screen says so.
    ui.core.detail.open_uri = lambda uri: ui.opened.append(uri) and False
    ui.tap(detail.ids.call)
    assert Clipboard.paste() == row.place.phone
    assert row.place.phone in detail.ids.message.text and "cannot make calls" in (
        detail.ids.message.text)
    ui.tap(detail.ids.copy_address)
    assert Clipboard.paste().startswith(row.place.name + "\n")
    assert detail.ids.message.text == "Address copied."
    ui.tap(detail.ids.directions)
    assert ui.opened[-2].startswith("geo:") and ui.opened[-1].startswith(
        "https://www.openstreetmap.org/?mlat=")
    assert Clipboard.paste() == ui.opened[-1] and ui.opened[-1] in detail.ids.message.text


def test_a_second_place_opens_at_its_top_and_24_hour_days_say_so(ui, cardholder):
    nearby = _list(ui, cardholder)
    ui.tap(nearby.ids.tab_repay)
    ui.wait_until(lambda: nearby.presenter.state.tab == "repay" and nearby.rows
                  and not nearby.presenter.state.loading, "the repayment points")
    first = _open(ui, nearby.rows[0])
    first.ids.scroller.scroll_y = 0
    ui.tap(first.ids.back)
    always = next(r for r in nearby.rows
                  if r.place.open_now and r.place.next_change_at is None)
    detail = _open(ui, always)
    assert detail.ids.scroller.scroll_y == 1
    assert "Open 24 hours" in always.status and always.status.startswith("●")
    assert all(r.hours == "Open 24 hours" for r in detail.hour_rows)
    assert "00:00" not in " ".join(r.hours for r in detail.hour_rows)


def test_loading_shows_a_turning_indicator_and_slow_is_not_offline(ui, cardholder):
    nearby = _list(ui, cardholder)
    spinner = nearby.ids.spinner
    assert not spinner.active and spinner.opacity == 0
    ui.core.api.timeout = (1.0, 1.0)
    ui.backend.inject_fault("/api/v1/branches/nearby", delay=2.5)
    ui.tap(nearby.ids.refresh)
    ui.frames(3)
    assert spinner.active and spinner.opacity == 1
    first = spinner.angle
    ui.idle(0.3)
    assert spinner.angle != first  # it turns
    ui.wait_until(lambda: not nearby.presenter.state.loading, "the slow answer")
    assert nearby.presenter.state.error == "error.slow"
    assert nearby.ids.banner.text.startswith("Nearbank is slow to answer")
    assert not spinner.active and spinner.opacity == 0
    ui.backend.stop()
    ui.tap(nearby.ids.refresh)
    ui.wait_until(lambda: not nearby.presenter.state.loading, "the offline answer")
    assert nearby.presenter.state.error == "error.offline"
    assert nearby.ids.banner.text.startswith("Offline: showing results from")


def test_nothing_open_offers_clear_filters_and_names_what_opens_next(ui, cardholder):
    from mobile.core.presenters.nearby import opens_next
    from mobile.ui.nearby import next_open_text

    nearby = _list(ui, cardholder)
    # The next "open now" search finds nothing (as at night); the one without it is real.
    ui.backend.inject_fault("/api/v1/branches/nearby", body=json.dumps(
        {"type": "FeatureCollection", "features": [], "next_cursor": None}))
    ui.backend.clear_log()
    ui.tap(nearby.chips["open_now"])
    ui.wait_until(lambda: nearby.presenter.state.empty and len(ui.backend.requests()) == 2,
                  "the empty result and the second search")
    first, second = ui.backend.requests()
    assert "open_now=true" in first.query and "open_now" not in second.query
    assert nearby.empty and nearby.can_clear
    assert nearby.ids.message.text.startswith("Nothing matches your filters within")
    ui.wait_until(lambda: nearby.presenter.state.next_open is not None
                  or nearby.ids.hint.text == "", "the hint")
    expected = opens_next(ui.core.api.nearby_branches(
        *[float(v.split("=")[1]) for v in second.query.split("&")[:2]],
        radius_m=5000, limit=30).places)
    assert nearby.ids.hint.text == next_open_text(nearby, expected)
    if expected is not None:
        assert expected.name in nearby.ids.hint.text
    ui.screenshot("nearby-empty-next-opening")
    ui.tap(nearby.ids.clear_filters)
    ui.wait_until(lambda: nearby.rows and not nearby.presenter.state.loading, "all results")
    assert nearby.presenter.state.filters == frozenset() and not nearby.empty
    assert "open_now" not in ui.backend.requests()[-1].query
