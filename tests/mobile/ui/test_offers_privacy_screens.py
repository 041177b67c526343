"""Offers only on a tap, the promotions-off explanation, privacy settings, language, sign-out."""

from __future__ import annotations


def _list_ready(ui):
    nearby = ui.screen("nearby")
    ui.wait_until(lambda: nearby.rows and not nearby.presenter.state.loading, "the list")
    return nearby


def test_nothing_asks_for_offers_after_start_navigation_and_idle_time(ui, cardholder):
    ui.backend.set_consent(cardholder, True)  # an offers request would succeed, were one made
    ui.sign_in(*cardholder)
    nearby = _list_ready(ui)
    ui.tap(nearby.ids.tab_repay)
    ui.wait_until(lambda: nearby.presenter.state.tab == "repay" and nearby.rows
                  and not nearby.presenter.state.loading, "the repayment points")
    ui.go("map")
    ui.go("nearby")
    ui.tap(nearby.rows[0])
    ui.wait_until(lambda: ui.screen("detail").hour_rows, "a detail page")
    ui.tap(ui.screen("detail").ids.back)
    ui.go("offers")
    offers = ui.screen("offers")
    assert offers.cards == [] and offers.ids.message.text == ""
    ui.screenshot("offers-before-the-tap")
    ui.go("privacy")
    ui.wait_until(lambda: ui.core.privacy.state.consent is not None, "the consent")
    ui.go("offers")
    ui.go("nearby")
    seen = len(ui.backend.requests())
    ui.idle(3.0)  # nothing runs on a timer: the log does not grow while the app sits idle
    assert len(ui.backend.requests()) == seen
    assert ui.offers_requests() == []
    assert {r.path for r in ui.backend.requests()} >= {
        "/api/v1/auth/login", "/api/v1/me", "/api/v1/branches/nearby",
        "/api/v1/repayment-points/nearby", "/api/v1/me/consent"}


def test_one_tap_makes_one_offers_request_and_shows_why(ui, cardholder):
    ui.backend.set_consent(cardholder, True)
    ui.sign_in(*cardholder)
    ui.go("offers")
    offers = ui.screen("offers")
    ui.tap(offers.ids.button)
    ui.wait_until(lambda: offers.cards, "the offers")
    assert len(ui.offers_requests()) == 1
    merchants = [card.merchant for card in offers.cards]
    assert set(merchants) == {"Bean There Coffee", "Threadneedle Kitchen"}
    for card in offers.cards:
        assert card.why.startswith("• You enabled offers in")
        assert "from you" in card.why and "Valid for gold cards until" in card.why
        assert "away" in card.facts and "Valid until" in card.facts
    assert "20% off" in offers.cards[merchants.index("Bean There Coffee")].benefit
    ui.screenshot("offers-with-why")
    ui.idle(1.0)
    assert len(ui.offers_requests()) == 1
    ui.go("nearby")
    ui.go("offers")
    assert offers.cards == []  # offers are not kept once the screen is left


def test_with_promotions_off_the_app_explains_and_never_turns_them_on(ui, cardholder):
    ui.sign_in(*cardholder)
    ui.go("offers")
    offers = ui.screen("offers")
    ui.backend.clear_log()
    ui.tap(offers.ids.button)
    ui.wait_until(lambda: offers.promotions_off, "the explanation")
    assert offers.cards == []
    assert "Turning them on means" in offers.ids.off_body.text
    assert offers.ids.off_sent_nothing.text.startswith("Nothing was sent")
    # The tap read the consent (no position) and sent nothing else: no offers request.
    assert ui.offers_requests() == []
    assert [(r.method, r.path, r.query) for r in ui.backend.requests()] == [
        ("GET", "/api/v1/me/consent", "")]
    ui.screenshot("offers-promotions-off")
    ui.tap(offers.ids.off_button)
    assert ui.current == "privacy"
    privacy = ui.screen("privacy")
    ui.wait_until(lambda: ui.core.privacy.state.consent is not None, "the consent")
    assert privacy.ids.promotions_state.text.startswith("Off")
    assert not privacy.ids.promotions_button.enabled  # a category must be chosen first
    token = ui.backend.login(*cardholder)
    assert ui.backend.call("GET", "/me/consent", token)["promotions_enabled"] is False
    assert not [r for r in ui.backend.requests() if r.method == "PUT"]


def test_privacy_screen_turns_promotions_on_and_shows_the_history(ui, cardholder):
    ui.sign_in(*cardholder)
    ui.go("privacy")
    privacy = ui.screen("privacy")
    state = ui.core.privacy
    ui.wait_until(lambda: state.state.consent is not None, "the consent")
    ui.tap(privacy.category_chips["cafes"])
    ui.tap(privacy.ids.more)
    assert state.state.draft_categories == ("cafes",) and state.state.max_offers == 6
    ui.tap(privacy.ids.promotions_button)
    # First the notice, as served, with its version; nothing is turned on yet.
    ui.wait_until(lambda: privacy.reading_notice, "the promotions notice")
    notice = ui.backend.call("GET", "/privacy/notices/promotions")
    assert privacy.ids.notice_title.text == notice["texts"]["en"]["title"]
    assert privacy.ids.notice_body.text == notice["texts"]["en"]["body"]
    assert notice["version"] in privacy.ids.notice_version.text
    assert not [r for r in ui.backend.requests() if r.method == "PUT"]
    ui.screenshot("consent-notice")
    ui.tap(privacy.ids.agree)
    ui.wait_until(lambda: state.state.consent.promotions and not state.state.saving,
                  "promotions on")
    token = ui.backend.login(*cardholder)
    [latest] = ui.backend.call("GET", "/me/consent/history", token)["items"]
    assert latest["policy_version"] == notice["version"]
    assert privacy.ids.promotions_state.text.startswith("On")
    assert privacy.ids.promotions_button.text == "Turn promotions off"
    assert len(privacy.history_rows) == 1 and "Promotions turned on" in (
        privacy.history_rows[0].text)
    assert "Cafés" in privacy.history_rows[0].text and "at most 6" in (
        privacy.history_rows[0].text)
    ui.tap(privacy.precision_chips["1km"])
    assert ui.core.settings.current.precision == "1km"
    ui.screenshot("privacy-settings")
    ui.go("offers")
    offers = ui.screen("offers")
    ui.tap(offers.ids.button)
    ui.wait_until(lambda: offers.cards, "the offers")
    assert [c.merchant for c in offers.cards] == ["Bean There Coffee"]
    assert "lat=51.51&" in ui.offers_requests()[0].query + "&"


def test_export_and_sign_out_from_privacy(ui, cardholder):
    ui.sign_in(*cardholder)
    ui.go("privacy")
    privacy = ui.screen("privacy")
    ui.wait_until(lambda: ui.core.privacy.state.consent is not None, "the consent")
    ui.tap(privacy.ids.export)
    ui.wait_until(lambda: privacy.ids.export_path.text, "the export")
    assert privacy.ids.export_path.text.startswith("Saved to ")
    ui.screenshot("privacy-export")
    ui.backend.clear_log()
    ui.tap(privacy.ids.sign_out)  # asks first: a stray tap changes nothing
    assert privacy.confirming_sign_out and ui.current == "privacy"
    ui.tap(privacy.ids.sign_out_no)
    assert not privacy.confirming_sign_out and ui.core.api.has_session
    ui.tap(privacy.ids.sign_out)
    ui.screenshot("privacy-sign-out-question")
    assert ui.backend.paths() == []
    ui.tap(privacy.ids.sign_out_yes)
    ui.wait_until(lambda: ui.current == "signin", "the sign-in screen")
    assert ui.backend.paths()[-1] == "/api/v1/auth/logout"
    assert ui.core.api._tokens.load() is None and not ui.core.api.has_session


def test_simplified_chinese(ui, cardholder):
    ui.sign_in(*cardholder)
    _list_ready(ui)
    ui.go("privacy")
    privacy = ui.screen("privacy")
    ui.tap(privacy.language_chips["zh_CN"])
    assert ui.app.lang == "zh_CN" and ui.core.settings.current.language == "zh_CN"
    privacy.ids.scroller.scroll_y = 1
    nav = {b.target: b.text for b in ui.root.ids.nav.children}
    assert nav == {"nearby": "附近", "map": "地图", "offers": "优惠", "privacy": "隐私"}
    ui.screenshot("privacy-zh")
    ui.go("nearby")
    nearby = ui.screen("nearby")
    assert nearby.ids.tab_repay.text == "信用卡还款"
    assert all(" 米" in row.distance or " 公里" in row.distance for row in nearby.rows)
    assert "NotoSansCJK" in (ui.app.font_path or "")
    ui.screenshot("nearby-zh")
    ui.go("offers")
    assert ui.screen("offers").ids.button.text == "显示我附近的优惠"
