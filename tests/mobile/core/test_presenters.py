"""Every presenter against the live backend: sign in, nearby, detail, offline, privacy."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs

import pytest

from mobile.core.presenters.nearby import STEP_FREE, matches
from tests.mobile.conftest import BANK


def _nearby_queries(backend) -> list[dict[str, list[str]]]:
    return [parse_qs(r.query) for r in backend.requests() if r.path.endswith("/nearby")]


# -- session -----------------------------------------------------------------------------------

def test_sign_in_and_out(make_core, cardholder, backend):
    core = make_core()
    seen = []
    core.session.subscribe(seen.append)
    core.session.sign_in(*cardholder)
    assert core.session.state.signed_in and core.session.state.me.email == cardholder[0]
    assert any(s.busy for s in seen)  # the view could show progress
    core.session.sign_out()
    assert not core.session.state.signed_in and core.session.state.notice is None
    assert backend.paths()[-1] == "/api/v1/auth/logout"


def test_sign_in_errors_are_explained(make_core, cardholder, backend):
    core = make_core()
    core.session.sign_in("", "")
    assert core.session.state.error == "signin.missing"
    assert backend.paths() == []
    core.session.sign_in(cardholder[0], "wrong")
    assert core.session.state.error == "error.wrong_credentials"
    backend.stop()
    core.session.sign_in(*cardholder)
    assert core.session.state.error == "error.offline" and not core.session.state.signed_in


def test_a_remembered_session_is_restored_at_launch(make_core, cardholder, backend, tmp_path):
    first = make_core()
    first.session.sign_in(*cardholder)
    again = make_core(tokens=first.api._tokens)
    again.session.restore()
    assert again.session.state.signed_in and again.session.state.me.email == cardholder[0]


def test_restoring_an_ended_session_asks_to_sign_in(make_core, cardholder, backend):
    first = make_core()
    first.session.sign_in(*cardholder)
    store = first.api._tokens
    store.save(backend.expired(store.load()))
    again = make_core(tokens=store)
    again.session.restore()
    assert not again.session.state.signed_in
    assert again.session.state.error == "error.session_ended"


def test_restoring_offline_stays_signed_in(make_core, cardholder, backend):
    first = make_core()
    first.session.sign_in(*cardholder)
    backend.stop()
    again = make_core(tokens=first.api._tokens)
    again.session.restore()
    assert again.session.state.signed_in and again.session.state.me is None


def test_sign_out_offline_forgets_locally_and_says_so(make_core, cardholder, backend):
    core = make_core()
    core.session.sign_in(*cardholder)
    core.nearby.refresh()
    backend.stop()
    core.session.sign_out()
    assert not core.session.state.signed_in
    assert core.session.state.notice == "signin.signed_out_not_revoked"
    assert core.api._tokens.load() is None and core.cache.load("branches") is None
    assert core.nearby.state.places == () and not core.nearby.state.loaded


# -- nearby ------------------------------------------------------------------------------------

def test_branches_nearest_first_and_a_filter_narrows_them(make_core, backend):
    core = make_core()
    core.nearby.refresh()
    state = core.nearby.state
    assert state.loaded and not state.offline and state.error is None
    assert [p.distance_m for p in state.places] == sorted(p.distance_m for p in state.places)
    assert all(p.kind == "branch" for p in state.places)
    everything = len(state.places)
    core.nearby.toggle_filter("step_free")
    narrowed = core.nearby.state.places
    assert 0 < len(narrowed) < everything
    assert all(STEP_FREE in p.accessibility for p in narrowed)
    assert _nearby_queries(backend)[-1]["accessibility"] == [STEP_FREE]


def test_repay_tab_filters_by_cash_and_fee(make_core, backend):
    core = make_core()
    core.nearby.select_tab("repay")
    assert all(p.repayment is not None for p in core.nearby.state.places)
    core.nearby.toggle_filter("cash")
    core.nearby.toggle_filter("fee_free")
    places = core.nearby.state.places
    assert places and all(matches(p, frozenset({"cash", "fee_free"})) for p in places)
    core.nearby.select_tab("branches")  # fee-free does not apply to branches: it is dropped
    assert core.nearby.state.filters == frozenset()


def test_coordinates_are_rounded_to_the_chosen_precision_before_they_are_sent(make_core,
                                                                               backend):
    core = make_core(place=(51.513347, -0.089012))
    core.nearby.refresh()  # default precision: about 100 m
    core.privacy.set_precision("1km")
    core.nearby.refresh()
    core.privacy.set_precision("exact")
    core.nearby.refresh()
    sent = [(q["lat"][0], q["lon"][0]) for q in _nearby_queries(backend)]
    assert sent == [("51.513", "-0.089"), ("51.51", "-0.09"), ("51.513347", "-0.089012")]


def test_without_a_position_nothing_is_guessed_and_a_typed_one_is_used(make_core, backend):
    core = make_core(place=None)
    core.nearby.refresh()
    assert core.nearby.state.location_problem == "not_set" and core.nearby.state.places == ()
    assert backend.paths() == []
    core.nearby.use_typed_location("   ")
    assert core.nearby.state.location_problem == "parse" and backend.paths() == []
    # Not a position: a place name, which the server looks up; nothing found is said so.
    core.nearby.use_typed_location("1 Nowhere Lane")
    assert core.nearby.state.location_problem == "not_found"
    assert backend.paths() == ["/api/v1/geocode"] and core.settings.current.place() is None
    core.nearby.use_typed_location("Bank station,  London")
    assert core.nearby.state.location_problem is None and core.nearby.state.places
    assert core.settings.current.place_label == "10, Dean Street, Soho"
    assert backend.paths()[1:] == ["/api/v1/geocode", "/api/v1/branches/nearby"]
    core.nearby.use_typed_location("51°30′48″N 0°5′20″W")
    assert core.nearby.state.location_problem is None and core.nearby.state.places
    assert core.settings.current.place_label == "51°30′48″N 0°5′20″W"


def test_offline_shows_the_cached_results_with_their_time(make_core, backend):
    core = make_core()
    core.nearby.refresh()
    online = core.nearby.state
    backend.stop()
    core.nearby.refresh()
    offline = core.nearby.state
    assert offline.offline and offline.error == "error.offline"
    # The same places, without their waits (old numbers are never shown as a wait).
    assert offline.places == tuple(replace(p, queue=None, soonest=None) for p in online.places)
    assert offline.fetched_at == online.fetched_at
    core.nearby.toggle_filter("open_now")  # applied on the device to the cached results
    assert all(p.open_now for p in core.nearby.state.places)


def test_offline_without_a_cache_says_so(make_core, backend):
    core = make_core()
    backend.stop()
    core.nearby.refresh()
    assert core.nearby.state.offline and core.nearby.state.places == ()
    assert not core.nearby.state.loaded


def test_a_malformed_answer_keeps_the_list_and_explains(make_core, backend):
    core = make_core()
    core.nearby.refresh()
    before = core.nearby.state.places
    backend.inject_fault("/api/v1/branches/nearby", body='{"type": "Feature"}')
    core.nearby.refresh()
    assert core.nearby.state.error == "error.malformed"
    assert core.nearby.state.places == before and not core.nearby.state.offline


def test_a_late_answer_for_an_old_question_is_ignored(make_core, backend):
    from mobile.core.runner import Outcome

    class Deferred:
        def __init__(self):
            self.jobs = []

        def submit(self, work, done):
            self.jobs.append((work, done))

        def post(self, callback):
            callback()

    runner = Deferred()
    core = make_core(runner=runner)
    core.nearby.refresh()
    core.nearby.select_tab("repay")
    (old_work, old_done), (new_work, new_done) = runner.jobs
    new_done(Outcome(value=new_work()))
    old_done(Outcome(value=old_work()))
    assert core.nearby.state.tab == "repay"
    assert all(p.repayment is not None for p in core.nearby.state.places)


# -- detail ------------------------------------------------------------------------------------

def test_detail_shows_a_week_and_hands_a_geo_uri_to_the_platform(make_core, backend):
    core = make_core()
    core.nearby.refresh()
    place = core.nearby.state.places[0]
    core.detail.open(place)
    detail = core.detail.state.detail
    assert detail.place.name == place.name and len(detail.week) == 7
    uri = core.detail.directions()
    assert core.opened == [uri]
    assert uri.startswith(f"geo:{place.lat:.6f},{place.lon:.6f}?q=")
    # A branch's detail asks for its queue too.
    assert backend.paths()[-2:] == [f"/api/v1/places/{place.id}",
                                    f"/api/v1/branches/{place.id}/queue"]


def test_detail_of_a_missing_place(make_core, backend):
    core = make_core()
    core.nearby.refresh()
    place = core.nearby.state.places[0]
    backend.inject_fault(f"/api/v1/places/{place.id}", status=404,
                         body='{"type": "about:blank", "status": 404}',
                         content_type="application/problem+json")
    core.detail.open(place)
    assert core.detail.state.error == "error.not_found"
    assert core.detail.state.place == place  # the list's facts stay on screen


def test_a_session_ending_elsewhere_returns_to_sign_in(make_core, cardholder, backend):
    core = make_core()
    core.session.sign_in(*cardholder)
    store = core.api._tokens
    store.save(backend.expired(store.load()))
    core.api._access = backend.expired(core.api._access)
    core.privacy.load()
    assert not core.session.state.signed_in
    assert core.session.state.error == "error.session_ended"


def test_nothing_is_requested_without_an_action(make_core, cardholder, backend):
    core = make_core()
    core.session.sign_in(*cardholder)
    backend.clear_log()
    core.nearby.subscribe(lambda s: None)
    core.offers.subscribe(lambda s: None)
    core.privacy.subscribe(lambda s: None)
    assert backend.paths() == []
    assert BANK  # the place is set, and still nothing was fetched


# -- offers ------------------------------------------------------------------------------------

def _offers_requests(backend) -> list:
    return [r for r in backend.requests() if r.path == "/api/v1/offers/nearby"]


def test_offers_are_requested_once_per_tap_and_show_why(make_core, cardholder, backend):
    backend.set_consent(cardholder, True)
    core = make_core()
    core.session.sign_in(*cardholder)
    core.nearby.refresh()
    core.privacy.load()
    assert _offers_requests(backend) == [] and core.offers.state.phase == "idle"
    core.offers.show_offers_near_me()
    assert len(_offers_requests(backend)) == 1
    state = core.offers.state
    assert state.phase == "shown"
    assert {o.merchant for o in state.offers} == {"Bean There Coffee", "Threadneedle Kitchen"}
    assert all(o.why for o in state.offers)
    query = parse_qs(_offers_requests(backend)[0].query)
    assert (query["lat"], query["lon"]) == (["51.513"], ["-0.089"])  # rounded to ~100 m
    core.offers.clear()
    assert core.offers.state.phase == "idle" and core.offers.state.offers == ()


def test_with_promotions_off_the_offers_screen_explains(make_core, cardholder, backend):
    core = make_core()
    core.session.sign_in(*cardholder)
    backend.clear_log()
    core.offers.show_offers_near_me()
    assert core.offers.state.phase == "promotions_off" and core.offers.state.offers == ()
    assert core.privacy.state.consent is None  # nothing was turned on along the way
    # The consent was read (no position in it) and nothing else was sent: no offers request.
    assert [(r.method, r.path, r.query) for r in backend.requests()] == [
        ("GET", "/api/v1/me/consent", "")]


def test_offline_offers_are_never_shown_from_earlier(make_core, cardholder, backend):
    backend.set_consent(cardholder, True)
    core = make_core()
    core.session.sign_in(*cardholder)
    core.offers.show_offers_near_me()
    assert core.offers.state.offers
    backend.stop()
    core.offers.show_offers_near_me()
    assert core.offers.state.phase == "error" and core.offers.state.offers == ()
    assert core.offers.state.error == "error.offline"


def test_offers_without_a_position_ask_for_one(make_core, cardholder, backend):
    backend.set_consent(cardholder, True)
    core = make_core(place=None)
    core.session.sign_in(*cardholder)
    core.offers.show_offers_near_me()
    assert core.offers.state.phase == "location_problem"
    assert _offers_requests(backend) == []


# -- privacy -----------------------------------------------------------------------------------

def test_promotions_are_turned_on_only_with_a_chosen_category(make_core, cardholder, backend):
    core = make_core()
    core.session.sign_in(*cardholder)
    core.privacy.load()
    privacy = core.privacy
    assert privacy.state.consent.promotions is False
    privacy.set_promotions(True)
    assert privacy.state.error == "settings.choose_category"
    assert [r.method for r in backend.requests() if r.path == "/api/v1/me/consent"] == ["GET"]
    privacy.toggle_category("dining")
    privacy.set_max_offers(3)
    assert privacy.state.consent.promotions is False  # picking is not turning on
    privacy.set_promotions(True)
    # First the notice as served; nothing is sent until the cardholder agrees to it.
    notice = backend.call("GET", "/privacy/notices/promotions")
    assert privacy.state.reading is not None and privacy.state.consent.promotions is False
    assert privacy.state.reading.version == notice["version"]
    assert privacy.state.reading.text("zh_CN") == (notice["texts"]["zh-Hans"]["title"],
                                                   notice["texts"]["zh-Hans"]["body"])
    assert not [r for r in backend.requests() if r.method == "PUT"]
    privacy.agree()
    assert privacy.state.reading is None
    consent = privacy.state.consent
    assert consent.policy_version == notice["version"]
    assert consent.promotions and consent.categories == ("dining",) and consent.max_offers == 3
    privacy.toggle_category("cafes")
    privacy.set_max_offers(25)
    assert privacy.state.consent.categories == ("dining", "cafes")
    assert privacy.state.consent.max_offers == 20
    privacy.set_promotions(False)
    assert privacy.state.consent.promotions is False
    assert [e.action for e in privacy.state.history] == ["granted", "changed", "changed",
                                                          "withdrawn"]
    assert privacy.state.history[0].policy_version == notice["version"]


def test_declining_the_notice_sends_nothing(make_core, cardholder, backend):
    core = make_core()
    core.session.sign_in(*cardholder)
    core.privacy.load()
    core.privacy.toggle_category("dining")
    core.privacy.set_promotions(True)
    assert core.privacy.state.reading is not None
    core.privacy.decline()
    assert core.privacy.state.reading is None and core.privacy.state.pending is None
    assert not [r for r in backend.requests() if r.method == "PUT"]
    core.privacy.agree()  # nothing on show: agreeing to nothing sends nothing
    assert not [r for r in backend.requests() if r.method == "PUT"]


def test_the_last_category_cannot_be_dropped_while_on(make_core, cardholder, backend):
    backend.set_consent(cardholder, True, ("cafes",))
    core = make_core()
    core.session.sign_in(*cardholder)
    core.privacy.load()
    core.privacy.toggle_category("cafes")
    assert core.privacy.state.error == "settings.keep_one_category"
    assert core.privacy.state.consent.categories == ("cafes",)


def test_data_export_is_saved_to_a_file(make_core, cardholder, backend):
    import json
    from pathlib import Path

    core = make_core()
    core.session.sign_in(*cardholder)
    core.privacy.export_data()
    exported = json.loads(Path(core.privacy.state.export_path).read_text(encoding="utf-8"))
    assert exported["account"]["email"] == cardholder[0]


def test_place_and_precision_settings(make_core, backend):
    core = make_core(place=None)
    assert core.privacy.set_place("not a place") is False and core.privacy.state.place_error
    assert core.privacy.set_place("1°17′02″N 103°51′05″E")
    assert core.settings.current.place().lat == pytest.approx(1.283889)
    core.privacy.set_precision("1km")
    core.nearby.refresh()
    assert parse_qs(backend.requests()[-1].query)["lat"] == ["1.28"]
    core.privacy.clear_place()
    assert core.settings.current.place() is None


def test_opens_next_prefers_round_the_clock_then_the_earliest_opening():
    from dataclasses import replace as replace_
    from datetime import UTC, datetime

    from mobile.core.models import Place
    from mobile.core.presenters.nearby import opens_next

    base = Place(id="a", kind="branch", name="A", brand=None, lat=0, lon=0, address=None,
                 status="active", timezone=None, services=(), accessibility=(),
                 distance_m=100, bearing_deg=0, open_now=False, closes_soon=False,
                 next_change_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
                 next_change_kind="opens", repayment=None, phone=None)
    later_near = base
    sooner_far = replace_(base, id="b", name="B", distance_m=900,
                          next_change_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    shut = replace_(base, id="c", name="C", status="temporarily_closed",
                    next_change_at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    assert opens_next((later_near, sooner_far, shut)).name == "B"
    always = replace_(base, id="d", name="D", open_now=True, next_change_at=None,
                      distance_m=2000)
    assert opens_next((later_near, sooner_far, always)).name == "D"
    assert opens_next(()) is None
