"""How many cardholders an offer reached per day, counted without keeping who, published with
differential privacy.

Counting: when an answer shows an offer, the cardholder becomes a viewer token,
HMAC-SHA256(day key, "offer id:user id") cut to 16 bytes, inserted once per (offer, day). The
day key is random, lives in `offer_day_keys` and is deleted as soon as the day has ended (by the
first answer of the next day and by `flask privacy purge`); without it a token cannot be tied to
anyone, and tokens of different offers or days cannot be tied to each other either.

Publishing: a day's count is published once, after the day ended, as the true number of
distinct cardholders plus noise from the two-sided geometric mechanism, P(Z = k) proportional to
exp(-EPSILON * |k|). One cardholder changes a (offer, day) count by at most 1, so each published
value is EPSILON-differentially private for that cardholder: whatever a merchant knows about
everyone else, it can tell "with them" from "without them" with probability at most
e^EPSILON / (1 + e^EPSILON). The noisy value is stored with its epsilon and served from then on,
so asking again returns the same value and cannot average the noise away. The true count is not
kept: the tokens are deleted when the value is published.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import random
import secrets
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

# Privacy loss per offer per UTC day for one cardholder. e^0.5 / (1 + e^0.5) = 0.622: the best
# possible guess of whether one given person was counted is right at most 62.2% of the time.
EPSILON = 0.5
MECHANISM = "two-sided geometric"
TOKEN_BYTES = 16
# Production noise comes from the operating system's generator; tests pass a seeded Random.
SYSTEM_RANDOM = random.SystemRandom()


def guess_bound(epsilon: float = EPSILON) -> float:
    """The highest rate at which anyone can guess one person's presence from a published count."""
    return math.exp(epsilon) / (1 + math.exp(epsilon))


def noise_sd(epsilon: float = EPSILON) -> float:
    """Standard deviation of the two-sided geometric noise."""
    alpha = math.exp(-epsilon)
    return math.sqrt(2 * alpha) / (1 - alpha)


def two_sided_geometric(epsilon: float, rng: random.Random) -> int:
    """One draw Z with P(Z = k) proportional to exp(-epsilon |k|): the difference of two
    geometric variables with success probability 1 - exp(-epsilon)."""
    log_alpha = -epsilon

    def geometric() -> int:
        return math.floor(math.log(1.0 - rng.random()) / log_alpha)

    return geometric() - geometric()


def publish_value(true_count: int, epsilon: float, rng: random.Random) -> int:
    """The value published for a true count: count plus noise, never below zero.

    Clamping is post-processing of a differentially private value, so it costs no privacy.
    """
    return max(0, true_count + two_sided_geometric(epsilon, rng))


def viewer_token(key: bytes, user_id: int, offer_id: int) -> bytes:
    """The cardholder as a viewer of one offer on the key's day; unlinkable once the key is gone."""
    return hmac.new(key, f"{offer_id}:{user_id}".encode(), hashlib.sha256).digest()[:TOKEN_BYTES]


def day_key(session: Session, day: date) -> bytes:
    """The secret of `day`, created on first use; keys of earlier days are destroyed then."""
    key = session.execute(text("SELECT key FROM offer_day_keys WHERE day = :day"),
                          {"day": day}).scalar()
    if key is not None:
        return key
    session.execute(text("DELETE FROM offer_day_keys WHERE day < :day"), {"day": day})
    # Two first answers of the day may race: one key wins and both use it.
    session.execute(text("INSERT INTO offer_day_keys (day, key) VALUES (:day, :key) "
                         "ON CONFLICT (day) DO NOTHING"),
                    {"day": day, "key": secrets.token_bytes(32)})
    return session.execute(text("SELECT key FROM offer_day_keys WHERE day = :day"),
                           {"day": day}).scalar_one()


def record_viewers(session: Session, user_id: int, offer_ids: list[int], day: date) -> None:
    """Note that the cardholder was shown these offers today, once per offer and day."""
    if not offer_ids:
        return
    key = day_key(session, day)
    ids = sorted(set(offer_ids))  # one lock order for concurrent answers
    session.execute(text("""
        INSERT INTO offer_day_viewers (offer_id, day, viewer)
        SELECT offer_id, :day, viewer
        FROM unnest(CAST(:ids AS bigint[]), CAST(:tokens AS bytea[])) AS t(offer_id, viewer)
        ON CONFLICT DO NOTHING
    """), {"day": day, "ids": ids,
           "tokens": [viewer_token(key, user_id, offer_id) for offer_id in ids]})


def forget_viewer(session: Session, user_id: int) -> int:
    """Delete the cardholder's viewer tokens of every day whose key still exists (erasure)."""
    forgotten = 0
    for day, key in session.execute(text("SELECT day, key FROM offer_day_keys")).all():
        offer_ids = session.scalars(text(
            "SELECT DISTINCT offer_id FROM offer_day_viewers WHERE day = :day"),
            {"day": day}).all()
        if not offer_ids:
            continue
        forgotten += session.execute(text("""
            DELETE FROM offer_day_viewers
            WHERE day = :day AND (offer_id, viewer) IN (
                SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:tokens AS bytea[])))
        """), {"day": day, "ids": list(offer_ids),
               "tokens": [viewer_token(key, user_id, o) for o in offer_ids]}).rowcount
    return forgotten


# Every (offer, day) of an offer's life that has ended and has no published value yet, with the
# number of distinct viewers. Days without any viewer are published too (as noise around 0):
# leaving them out would itself say that someone was shown the offer on the other days.
_UNPUBLISHED_SQL = """
SELECT o.id AS offer_id, d::date AS day,
       (SELECT count(*) FROM offer_day_viewers v
        WHERE v.offer_id = o.id AND v.day = d::date) AS viewers
FROM offers o
CROSS JOIN LATERAL generate_series(
    GREATEST(timezone('UTC', o.created_at)::date, timezone('UTC', o.valid_from)::date,
             CAST(:day_from AS date)),
    LEAST(timezone('UTC', o.valid_until)::date, CAST(:today AS date) - 1, CAST(:day_to AS date)),
    interval '1 day') AS d
WHERE (CAST(:offer_id AS bigint) IS NULL OR o.id = CAST(:offer_id AS bigint))
  AND NOT EXISTS (SELECT 1 FROM offer_daily_reach r WHERE r.offer_id = o.id AND r.day = d::date)
ORDER BY o.id, d
"""


def publish_ended_days(session: Session, today: date, rng: random.Random = SYSTEM_RANDOM,
                       offer_id: int | None = None, day_from: date | None = None,
                       day_to: date | None = None, epsilon: float = EPSILON) -> int:
    """Publish the noisy count of every ended day not yet published; returns how many.

    The tokens of ended days are deleted afterwards: the published value is all that remains.
    """
    rows = session.execute(text(_UNPUBLISHED_SQL), {
        "today": today, "offer_id": offer_id, "day_from": day_from, "day_to": day_to,
    }).all()
    if rows:
        # Drawn once; a concurrent publisher's earlier value wins (ON CONFLICT DO NOTHING).
        session.execute(text("""
            INSERT INTO offer_daily_reach (offer_id, day, cardholders, epsilon)
            SELECT offer_id, day, cardholders, :epsilon
            FROM unnest(CAST(:ids AS bigint[]), CAST(:days AS date[]),
                        CAST(:values AS bigint[])) AS t(offer_id, day, cardholders)
            ON CONFLICT DO NOTHING
        """), {"ids": [r.offer_id for r in rows], "days": [r.day for r in rows],
               "values": [publish_value(r.viewers, epsilon, rng) for r in rows],
               "epsilon": epsilon})
    session.execute(text("""
        DELETE FROM offer_day_viewers v WHERE v.day < :today
        AND EXISTS (SELECT 1 FROM offer_daily_reach r
                    WHERE r.offer_id = v.offer_id AND r.day = v.day)
    """), {"today": today})
    return len(rows)


def published_days(session: Session, offer_id: int, day_from: date | None,
                   day_to: date | None) -> list[dict[str, Any]]:
    """The published values of an offer, oldest first."""
    rows = session.execute(text("""
        SELECT day, cardholders FROM offer_daily_reach
        WHERE offer_id = :offer_id
          AND (CAST(:day_from AS date) IS NULL OR day >= CAST(:day_from AS date))
          AND (CAST(:day_to AS date) IS NULL OR day <= CAST(:day_to AS date))
        ORDER BY day
    """), {"offer_id": offer_id, "day_from": day_from, "day_to": day_to}).all()
    return [{"day": day.isoformat(), "cardholders": value} for day, value in rows]


def yesterday(today: date) -> date:
    """The last day whose count can be published on `today`."""
    return today - timedelta(days=1)
