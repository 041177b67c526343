"""Merchants' counts reveal no one: distinct cardholders per offer and day under a day key that
is destroyed, published once with two-sided geometric noise; the attack that the old threshold
allowed is run and measured against the bound that epsilon sets."""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from backend.offers import reach
from backend.offers.areas import geodesic_area_m2
from tests.backend.offer_factories import (  # noqa: F401 (a fixture)
    OfferWorld,
    fast_password_hashing,
    square,
)

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
OFFERS = "/api/v1/merchants/me/offers"
LONDON = (51.5007, -0.1246)


@pytest.fixture
def world(client, login):
    return OfferWorld(client, login)


def offer_row_id(session, public_id: str) -> int:
    return session.execute(text("SELECT id FROM offers WHERE public_id = :id"),
                           {"id": public_id}).scalar_one()


def viewers(session, offer_id: int | None = None) -> int:
    return session.execute(text(
        "SELECT count(*) FROM offer_day_viewers "
        "WHERE CAST(:id AS bigint) IS NULL OR offer_id = CAST(:id AS bigint)"),
        {"id": offer_id}).scalar_one()


def keys(session) -> list:
    return session.scalars(text("SELECT day FROM offer_day_keys ORDER BY day")).all()


# --- the mechanism ----------------------------------------------------------------------------

def test_the_noise_has_the_two_sided_geometric_distribution():
    rng = random.Random(20261201)
    draws = [reach.two_sided_geometric(reach.EPSILON, rng) for _ in range(200_000)]
    alpha = math.exp(-reach.EPSILON)
    frequencies = Counter(draws)
    for k in range(-4, 5):
        expected = (1 - alpha) / (1 + alpha) * alpha ** abs(k)
        assert frequencies[k] / len(draws) == pytest.approx(expected, abs=0.004), k
    mean = sum(draws) / len(draws)
    variance = sum((d - mean) ** 2 for d in draws) / len(draws)
    assert abs(mean) < 0.03
    assert math.sqrt(variance) == pytest.approx(reach.noise_sd(), rel=0.02)
    assert reach.guess_bound() == pytest.approx(math.exp(0.5) / (1 + math.exp(0.5)))
    assert all(reach.publish_value(0, reach.EPSILON, rng) >= 0 for _ in range(1000))


# --- counting ---------------------------------------------------------------------------------

def test_a_day_key_is_destroyed_when_the_next_day_begins(session):
    day = datetime(2026, 11, 20, tzinfo=UTC).date()
    first = reach.day_key(session, day)
    assert len(first) == 32 and reach.day_key(session, day) == first
    second = reach.day_key(session, day + timedelta(days=1))
    assert second != first and keys(session) == [day + timedelta(days=1)]


def test_tokens_name_no_one_and_do_not_link_offers_or_days(world, session):
    merchant = world.merchant()
    store = world.store(merchant, *LONDON)
    a = offer_row_id(session, world.offer(merchant, [store])["id"])
    b = offer_row_id(session, world.offer(merchant, [store])["id"])
    day = datetime.now(UTC).date()
    for _ in range(3):  # the same cardholder again and again counts once
        reach.record_viewers(session, 41, [a, b], day)
    reach.record_viewers(session, 42, [a], day)
    rows = session.execute(text("SELECT offer_id, viewer FROM offer_day_viewers")).all()
    assert Counter(offer for offer, _ in rows) == {a: 2, b: 1}
    tokens = {bytes(viewer) for _, viewer in rows}
    assert len(tokens) == 3  # 41's tokens for a and b differ: offers cannot be joined
    assert all(len(t) == reach.TOKEN_BYTES for t in tokens)
    assert {b"41", b"42", (41).to_bytes(8, "big")}.isdisjoint(tokens)
    key = reach.day_key(session, day)
    assert reach.viewer_token(key, 41, a) in tokens
    # Tomorrow, the same cardholder is a different token, and today's key is gone.
    tomorrow = day + timedelta(days=1)
    reach.record_viewers(session, 41, [a], tomorrow)
    assert keys(session) == [tomorrow]
    assert bytes(session.execute(text(
        "SELECT viewer FROM offer_day_viewers WHERE day = :d"), {"d": tomorrow}).scalar_one()) \
        not in tokens


def backdate(session, offer_id: int, days: int) -> None:
    """Make an offer as if created and valid `days` ago."""
    session.execute(text("UPDATE offers SET created_at = now() - make_interval(days => :n), "
                         "valid_from = now() - make_interval(days => :n) WHERE id = :id"),
                    {"n": days, "id": offer_id})


def test_stats_publish_each_ended_day_once_with_noise(world, client, session):
    merchant = world.merchant()
    store = world.store(merchant, *LONDON)
    offer = world.offer(merchant, [store])
    offer_id = offer_row_id(session, offer["id"])
    backdate(session, offer_id, 5)
    today = datetime.now(UTC).date()
    for user_id in (1, 2, 3):
        reach.record_viewers(session, user_id, [offer_id], today - timedelta(days=3))
    reach.record_viewers(session, 1, [offer_id], today - timedelta(days=1))
    reach.record_viewers(session, 1, [offer_id], today)
    url = f"{OFFERS}/{offer['id']}/stats"

    stats = client.get(url, headers=merchant.headers).json
    # Every ended day of the offer's life, days with nobody included (leaving those out would
    # reveal the others); today is not over and is not shown.
    assert [d["day"] for d in stats["days"]] == [
        (today - timedelta(days=n)).isoformat() for n in range(5, 0, -1)]
    assert all(isinstance(d["cardholders"], int) and d["cardholders"] >= 0
               for d in stats["days"])
    assert set(stats["days"][0]) == {"day", "cardholders"}
    assert stats["total_cardholder_days"] == sum(d["cardholders"] for d in stats["days"])
    assert stats["published_through"] == (today - timedelta(days=1)).isoformat()
    assert stats["privacy"] == {"mechanism": "two-sided geometric", "epsilon_per_day": 0.5,
                                "noise_sd": round(reach.noise_sd(), 2),
                                "guess_bound": round(reach.guess_bound(), 4)}
    # Drawn once and stored: asking again cannot average the noise away.
    for _ in range(3):
        assert client.get(url, headers=merchant.headers).json == stats
    # The tokens of published days are gone; only today's remain, waiting for the day's end.
    assert session.execute(text("SELECT DISTINCT day FROM offer_day_viewers")).scalars().all() \
        == [today]
    ranged = client.get(url, headers=merchant.headers, query_string={
        "from": (today - timedelta(days=3)).isoformat(),
        "to": (today - timedelta(days=2)).isoformat()}).json
    assert ranged["days"] == stats["days"][2:4]
    assert client.get(url, headers=merchant.headers,
                      query_string={"from": "2026-11-05", "to": "2026-11-01"}).status_code == 400


def test_a_published_value_is_the_true_count_plus_one_noise_draw(world, session):
    merchant = world.merchant()
    store = world.store(merchant, *LONDON)
    offer_id = offer_row_id(session, world.offer(merchant, [store])["id"])
    backdate(session, offer_id, 2)
    today = datetime.now(UTC).date()
    for user_id in range(7):
        reach.record_viewers(session, user_id, [offer_id], today - timedelta(days=1))
    assert reach.publish_ended_days(session, today, random.Random(5), offer_id=offer_id) == 2
    expected_rng = random.Random(5)
    expected = [reach.publish_value(n, reach.EPSILON, expected_rng) for n in (0, 7)]
    published = session.execute(text(
        "SELECT cardholders, epsilon FROM offer_daily_reach WHERE offer_id = :id ORDER BY day"),
        {"id": offer_id}).all()
    assert [tuple(row) for row in published] == [(v, reach.EPSILON) for v in expected]
    assert viewers(session, offer_id) == 0  # the true count is not kept
    assert reach.publish_ended_days(session, today, random.Random(6), offer_id=offer_id) == 0


def test_stats_are_the_merchants_own(world, client):
    owner = world.merchant()
    offer = world.offer(owner, [world.store(owner, *LONDON)])
    intruder = world.merchant("Intruder")
    response = client.get(f"{OFFERS}/{offer['id']}/stats", headers=intruder.headers)
    assert response.status_code == 404


# --- the attack -------------------------------------------------------------------------------

DB_TRIALS = 300           # publications through the database per scenario
MECHANISM_TRIALS = 200_000  # draws of the same mechanism on the counts the database holds


def test_nine_own_requests_cannot_tell_whether_one_other_cardholder_was_there(world, session):
    """A merchant makes an offer for an area of about 0.05 km² (the smallest allowed) and sends
    9 requests of its own from inside it, as 9 different cardholders, so that it knows its own
    part of the count exactly. Under the old rule the flip from "fewer than 10" to 10 told it
    that someone else was there. Now it guesses "someone else was there" when the published
    value is 10 or more (the likeliest explanation, given noise symmetric around the truth),
    and is right no more often than e^eps / (1 + e^eps)."""
    scenarios = {}
    for name, (lat, lon), others in (("alone", (51.5120, -0.1400), 0),
                                     ("one other", (51.5300, -0.0900), 1)):
        merchant = world.merchant(f"Corner cafe, {name}")
        size = 0.0028  # degrees; about 310 m x 190 m at this latitude
        area = square(lon - size / 2, lat - size / 2, size)
        assert 0.05e6 <= geodesic_area_m2(area["coordinates"][0]) <= 0.07e6
        store = world.store(merchant, lat, lon)
        offer = world.offer(merchant, [store], title=f"Offer {name}", area=area)
        for _ in range(9):
            sybil = world.cardholder()
            assert world.nearby_titles(sybil, lat, lon, radius_m=100) == [f"Offer {name}"]
        for _ in range(others):
            assert world.nearby_titles(world.cardholder(), lat, lon, radius_m=100) == [
                f"Offer {name}"]
        scenarios[name] = offer_row_id(session, offer["id"])
    true_counts = {name: viewers(session, offer_id) for name, offer_id in scenarios.items()}
    assert true_counts == {"alone": 9, "one other": 10}

    def guess_is_right(name: str, published: int) -> bool:
        return (published >= 10) == (name == "one other")

    # The publication as it runs, through the database, many times over the same day's data.
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    rng = random.Random(13)
    right = 0
    for _ in range(DB_TRIALS):
        attempt = session.begin_nested()
        assert reach.publish_ended_days(session, tomorrow, rng) == 2
        for name, offer_id in scenarios.items():
            published = session.execute(text(
                "SELECT cardholders FROM offer_daily_reach WHERE offer_id = :id"),
                {"id": offer_id}).scalar_one()
            right += guess_is_right(name, published)
        attempt.rollback()
    db_rate = right / (2 * DB_TRIALS)

    # The same mechanism on the counts the database holds, often enough for a tight estimate.
    rng = random.Random(14)
    right = sum(guess_is_right(name, reach.publish_value(true_counts[name], reach.EPSILON, rng))
                for _ in range(MECHANISM_TRIALS) for name in scenarios)
    mechanism_rate = right / (2 * MECHANISM_TRIALS)

    bound = reach.guess_bound()
    db_margin = 4 * math.sqrt(bound * (1 - bound) / (2 * DB_TRIALS))
    mechanism_margin = 4 * math.sqrt(bound * (1 - bound) / (2 * MECHANISM_TRIALS))
    print(f"\nattack on one day's count, epsilon = {reach.EPSILON}: bound e^eps/(1+e^eps) = "
          f"{bound:.4f}\n  through the database: {db_rate:.4f} right over {2 * DB_TRIALS} "
          f"guesses (margin {db_margin:.4f})\n  mechanism: {mechanism_rate:.4f} right over "
          f"{2 * MECHANISM_TRIALS} guesses (margin {mechanism_margin:.4f})")
    assert db_rate <= bound + db_margin
    assert mechanism_rate <= bound + mechanism_margin
    # The guess is the best there is: it reaches the bound, so the bound is what protects.
    assert mechanism_rate >= bound - mechanism_margin
