"""The API client against the real backend on loopback: auth, places, errors, refresh."""

from __future__ import annotations

import stat
from urllib.parse import parse_qs

import pytest
from sqlalchemy import text

from mobile.core import errors
from mobile.core.api import ApiClient
from mobile.core.tokens import FileTokenStore, MemoryTokenStore
from tests.mobile.conftest import BANK


def test_sign_in_keeps_only_the_refresh_token_in_a_private_file(api, cardholder, token_store):
    me = api.sign_in(*cardholder)
    assert me.email == cardholder[0] and me.role == "cardholder" and me.card_tier == "gold"
    stored = token_store.load()
    assert stored and stored != api._access
    assert stat.S_IMODE(token_store.path.stat().st_mode) == 0o600
    assert api.has_session


def test_wrong_password_is_a_typed_error(api, cardholder, token_store):
    with pytest.raises(errors.InvalidCredentials):
        api.sign_in(cardholder[0], "not the password")
    assert token_store.load() is None


def test_an_account_that_is_not_a_cardholders_is_refused_and_its_session_revoked(
        api, backend, token_store):
    email, password = backend.make_user("maintainer")
    with pytest.raises(errors.NotACardholder):
        api.sign_in(email, password)
    assert token_store.load() is None
    assert backend.paths()[-1] == "/api/v1/auth/logout"


def test_a_remembered_session_works_in_a_new_client(api, backend, cardholder, token_store):
    api.sign_in(*cardholder)
    relaunched = ApiClient(backend.url, FileTokenStore(token_store.path))
    try:
        assert relaunched.me().email == cardholder[0]  # a refresh first, then /me
    finally:
        relaunched.close()
    assert backend.paths()[-2:] == ["/api/v1/auth/refresh", "/api/v1/me"]


def test_an_expired_access_token_is_refreshed_transparently(api, backend, cardholder):
    api.sign_in(*cardholder)
    api._access = backend.expired(api._access)
    backend.clear_log()
    assert api.me().email == cardholder[0]
    assert backend.paths() == ["/api/v1/me", "/api/v1/auth/refresh", "/api/v1/me"]


def test_an_expired_refresh_token_ends_the_session(api, backend, cardholder, token_store):
    api.sign_in(*cardholder)
    token_store.save(backend.expired(token_store.load()))
    api._access = backend.expired(api._access)
    with pytest.raises(errors.AuthRequired):
        api.me()
    assert token_store.load() is None and not api.has_session


def test_sign_out_revokes_the_session_on_the_server_and_forgets_it(api, backend, cardholder,
                                                                   token_store):
    api.sign_in(*cardholder)
    refresh = token_store.load()
    assert api.sign_out() is True
    assert token_store.load() is None
    other = ApiClient(backend.url, MemoryTokenStore())
    try:
        other._tokens.save(refresh)
        with pytest.raises(errors.AuthRequired):
            other.me()  # the old refresh token no longer works anywhere
    finally:
        other.close()


def test_sign_out_without_the_server_still_forgets_the_token(api, backend, cardholder,
                                                             token_store):
    api.sign_in(*cardholder)
    backend.stop()
    assert api.sign_out() is False
    assert token_store.load() is None


def test_nearby_branches_come_nearest_first_with_distance_and_bearing(api, backend):
    page = api.nearby_branches(*BANK, limit=10)
    assert len(page.places) == 10
    distances = [p.distance_m for p in page.places]
    assert distances == sorted(distances)
    assert all(p.kind == "branch" and p.bearing_deg is not None for p in page.places)
    assert page.raw["type"] == "FeatureCollection"


def test_repayment_points_carry_method_fee_and_cutoff(api):
    page = api.repayment_points(*BANK, methods=["cash"], fee_free=True, limit=20)
    assert page.places
    for place in page.places:
        assert place.repayment is not None
        assert "cash" in place.repayment.methods and place.repayment.fee_free


def test_filters_are_sent_as_the_api_expects(api, backend):
    api.repayment_points(*BANK, open_now=True, accessibility=["LevelAccess"],
                         methods=["cash"], fee_free=True)
    query = parse_qs(backend.requests()[-1].query)
    assert query["open_now"] == ["true"] and query["fee_free"] == ["true"]
    assert query["accessibility"] == ["LevelAccess"] and query["method"] == ["cash"]


def test_place_detail_has_a_week_of_hours_with_today(api):
    branch = api.nearby_branches(*BANK, limit=1).places[0]
    detail = api.place(branch.id)
    assert detail.place.id == branch.id
    assert detail.week is not None and len(detail.week) == 7
    assert sum(day.today for day in detail.week) == 1


def test_unknown_place_is_not_found(api):
    with pytest.raises(errors.NotFound):
        api.place("00000000-0000-0000-0000-000000000000")


def test_invalid_coordinates_are_an_invalid_request_with_field_errors(api):
    with pytest.raises(errors.InvalidRequest) as caught:
        api.nearby_branches(123.0, 0.0)
    assert caught.value.errors[0]["field"] == "lat"


def test_server_down_is_offline(api, backend):
    backend.stop()
    with pytest.raises(errors.Offline):
        api.nearby_branches(*BANK)


def test_a_slow_server_times_out_as_offline(backend, token_store):
    backend.inject_fault("/api/v1/branches/nearby", delay=1.0, body="{}")
    client = ApiClient(backend.url, token_store, timeout=(1.0, 0.2))
    try:
        with pytest.raises(errors.Offline):
            client.nearby_branches(*BANK)
    finally:
        client.close()


@pytest.mark.parametrize("body, content_type", [
    ("<html>proxy error</html>", "text/html"),
    ('{"type": "FeatureCollection"}', "application/json"),
    ('{"type": "FeatureCollection", "features": [{"properties": {"id": "x"}}]}',
     "application/json"),
    ('{"type": "FeatureCollection", "features": [{"geometry": {"coordinates": [0, 51]},'
     ' "properties": {"id": "x", "kind": "branch", "name": 5}}]}', "application/json"),
    ("[1, 2, 3]", "application/json"),
])
def test_malformed_answers_are_a_typed_error(api, backend, body, content_type):
    backend.inject_fault("/api/v1/branches/nearby", body=body, content_type=content_type)
    with pytest.raises(errors.MalformedResponse):
        api.nearby_branches(*BANK)


def test_a_server_error_is_a_server_error_even_without_a_problem_body(api, backend):
    backend.inject_fault("/api/v1/branches/nearby", status=502, body="Bad gateway",
                         content_type="text/plain")
    with pytest.raises(errors.ServerError) as caught:
        api.nearby_branches(*BANK)
    assert caught.value.status == 502


def test_a_login_answer_without_tokens_is_malformed(api, backend, cardholder, token_store):
    backend.inject_fault("/api/v1/auth/login", body='{"token_type": "Bearer"}')
    with pytest.raises(errors.MalformedResponse):
        api.sign_in(*cardholder)
    assert token_store.load() is None


# -- consent and offers ------------------------------------------------------------------------

def test_offers_without_consent_are_refused_with_a_typed_error(api, cardholder):
    api.sign_in(*cardholder)
    with pytest.raises(errors.PromotionsNotEnabled) as caught:
        api.offers_nearby(*BANK)
    assert caught.value.status == 403
    assert caught.value.problem_type.endswith("/promotions-not-enabled")


def test_consent_round_trip_history_and_offers(api, cardholder, backend):
    api.sign_in(*cardholder)
    before = api.consent()
    assert before.promotions is False and "cafes" in before.available_categories
    saved = api.update_consent(True, ["cafes"], 4, before.current_policy_version)
    assert saved.promotions and saved.categories == ("cafes",) and saved.max_offers == 4
    offers = api.offers_nearby(*BANK, radius_m=2000)
    assert [o.merchant for o in offers] == ["Bean There Coffee"]  # only the chosen category
    offer = offers[0]
    assert offer.benefit == "20% off" and offer.title == "20% off any flat white"
    assert offer.distance_m is not None and offer.valid_until is not None
    assert offer.why and offer.why[0] == "You enabled offers in cafes"
    api.update_consent(False, [], 4, before.current_policy_version)
    history = api.consent_history()
    assert [e.action for e in history] == ["granted", "withdrawn"]
    assert history[0].categories == ("cafes",) and history[0].channel == "app"
    export = api.export_data()
    assert export["account"]["email"] == cardholder[0]
    assert len(export["consent_history"]) == 2
    with pytest.raises(errors.PromotionsNotEnabled):
        api.offers_nearby(*BANK)  # withdrawal applies to the very next request


def test_an_outdated_policy_version_is_a_conflict(api, cardholder, backend):
    with backend.db() as session:  # an earlier notice, superseded by the current one
        session.execute(text("""
            INSERT INTO privacy_notices (topic, version, published_on, title_en, body_en,
                                         title_zh, body_zh)
            VALUES ('promotions', '2026-06', DATE '2026-06-01', 'Offers', 'Earlier text.',
                    '优惠', '较早的文本。')
            ON CONFLICT DO NOTHING"""))
        session.commit()
    api.sign_in(*cardholder)
    with pytest.raises(errors.Conflict):
        api.update_consent(True, ["cafes"], 5, "2026-06")
    with pytest.raises(errors.InvalidRequest):  # never published
        api.update_consent(True, ["cafes"], 5, "1999-01")


def test_malformed_offers_are_a_typed_error(api, cardholder, backend):
    api.sign_in(*cardholder)
    backend.inject_fault("/api/v1/offers/nearby", body='{"type": "FeatureCollection", '
                         '"features": [{"properties": {"id": "x", "title": "t"}}]}')
    with pytest.raises(errors.MalformedResponse):
        api.offers_nearby(*BANK)


def test_every_request_says_the_apps_language(api, backend):
    api.nearby_branches(*BANK)
    api.set_language("zh_CN")
    page = api.repayment_points(*BANK)
    assert [r.language for r in backend.requests()] == ["en", "zh-CN, zh;q=0.9, en;q=0.5"]
    assert any(p.repayment and "使用" in (p.repayment.how or "") for p in page.places)


def test_place_search_finds_says_and_fails_as_typed_errors(api, backend):
    found = api.find_place("Bank station, London")
    assert (found.lat, found.lon, found.label) == (51.5136, -0.134, "10, Dean Street, Soho")
    with pytest.raises(errors.NotFound):
        api.find_place("Nowhere Street")
    backend.inject_fault("/api/v1/geocode", status=429, content_type="application/problem+json",
                         body='{"type": "about:blank", "title": "Too Many Requests", '
                              '"status": 429}')
    with pytest.raises(errors.RateLimited):
        api.find_place("Bank")
    with pytest.raises(errors.ServerError):
        api.find_place("boom")
