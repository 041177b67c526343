"""Offers near a cardholder who opted in and asked: filtered, capped, each with why it is shown.

The query point is a bound parameter of one SQL statement and lives in an `OffersNearbyQuery`
for the request; it is never stored or logged. The only trace an answer leaves is +1 on each
shown offer's daily counter (`offer_daily_shows`), which names no one and no place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from backend import vocab
from backend.accounts.consent import get_consent
from backend.errors import PROBLEM_BASE, Forbidden
from backend.geo import geodesic_inverse, snap_to_grid
from backend.i18n import N_, phrases
from backend.offers import reach
from backend.offers.service import benefit_json
from backend.privacy import notices

CONSENT_URL = "/api/v1/me/consent"


class PromotionsNotEnabled(Forbidden):
    """The cardholder has not turned promotions on (or turned them off)."""

    type = PROBLEM_BASE + "promotions-not-enabled"
    title = "Promotions are not enabled"


@dataclass(frozen=True)
class OffersNearbyQuery:
    """Where the cardholder is, how far to look and which categories; lives for one request.

    The point is snapped to the centre of its ~100 m grid cell as the query is made, before any
    use: an offer area is at least 0.05 km², so finer precision serves no purpose here. (Branch
    and ATM search keep the exact point: a cardholder needs it to find a door.)
    """

    lat: float
    lon: float
    radius_m: float
    categories: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        lat, lon = snap_to_grid(self.lat, self.lon)
        object.__setattr__(self, "lat", lat)
        object.__setattr__(self, "lon", lon)


_POINT = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography"

# Candidates come from two index lookups: stores within the radius (GiST on
# merchant_stores.location) and areas covering the point (GiST on offers.area). Each candidate
# offer is placed at its nearest store (spheroid distance), filtered, capped per merchant with a
# window function, and the nearest come first, ties by id.
OFFERS_NEARBY_SQL = f"""
WITH hits AS (
    SELECT os.offer_id
    FROM merchant_stores s JOIN offer_stores os ON os.store_id = s.id
    WHERE ST_DWithin(s.location, {_POINT}, :radius_m)
    UNION
    SELECT o.id FROM offers o
    WHERE o.area IS NOT NULL AND ST_Covers(o.area, {_POINT})
),
eligible AS (
    SELECT o.id, o.public_id, o.merchant_id, o.title, o.description, o.terms, o.category,
           o.benefit_type, o.benefit_percent, o.benefit_amount, o.benefit_currency,
           o.benefit_text, o.valid_from, o.valid_until,
           m.public_id AS merchant_public_id, m.name AS merchant_name, m.max_offers_shown,
           (o.area IS NOT NULL AND ST_Covers(o.area, {_POINT})) AS in_area,
           near.*
    FROM hits
    JOIN offers o ON o.id = hits.offer_id
    JOIN merchants m ON m.id = o.merchant_id
    CROSS JOIN LATERAL (
        SELECT s.public_id AS store_public_id, s.name AS store_name, s.street, s.locality,
               s.postcode, s.country, s.timezone,
               ST_Y(s.location::geometry) AS store_lat, ST_X(s.location::geometry) AS store_lon,
               ST_Distance(s.location, {_POINT}) AS distance_m
        FROM offer_stores os JOIN merchant_stores s ON s.id = os.store_id
        WHERE os.offer_id = o.id
        ORDER BY ST_Distance(s.location, {_POINT}), s.id
        LIMIT 1
    ) near
    WHERE o.status = 'approved'
      AND m.verification_status = 'verified'
      AND o.valid_from <= :now AND o.valid_until > :now
      AND o.category = ANY(CAST(:categories AS text[]))
      AND CAST(:tier AS text) = ANY(o.eligible_tiers)
),
ranked AS (
    SELECT e.*, row_number() OVER (PARTITION BY e.merchant_id
                                   ORDER BY e.distance_m, e.id) AS merchant_rank
    FROM eligible e
)
SELECT * FROM ranked
WHERE merchant_rank <= max_offers_shown
ORDER BY distance_m, id
LIMIT :max_offers
"""


def find_offers_nearby(session: Session, user_id: int, card_tier: str | None,
                       query: OffersNearbyQuery, now: datetime) -> dict[str, Any]:
    """Approved, valid offers of verified merchants near the cardholder, as GeoJSON.

    Counts the cardholder once per returned offer and UTC day, as an unlinkable token.

    :raises PromotionsNotEnabled: when the cardholder's consent is off.
    """
    consent = get_consent(session, user_id)  # read on every request: withdrawal is immediate
    if not consent.promotions_enabled:
        raise PromotionsNotEnabled(
            "Offers are shown only to cardholders who turn promotions on. Ask the user whether "
            "they want offers from the bank's partner merchants when they ask for them, and in "
            f"which categories, showing the notice at {notices.NOTICE_URL}; if they agree, PUT "
            f'{CONSENT_URL} with {{"promotions_enabled": true, "categories": [...], '
            '"policy_version": "<the version shown>", "channel": "app"}, then ask again.',
            consent_url=CONSENT_URL, categories=list(vocab.OFFER_CATEGORIES),
            policy_version=notices.current_version(session, notices.PROMOTIONS, now.date()),
            notice_url=notices.NOTICE_URL)
    categories = [c for c in consent.categories
                  if query.categories is None or c in query.categories]
    rows: list[Any] = []
    if categories and card_tier:
        rows = session.execute(text(OFFERS_NEARBY_SQL), {
            "lat": query.lat, "lon": query.lon, "radius_m": query.radius_m, "now": now,
            "categories": categories, "tier": card_tier, "max_offers": consent.max_offers,
        }).mappings().all()
    reach.record_viewers(session, user_id, [row["id"] for row in rows],
                         now.astimezone(UTC).date())
    session.commit()
    # The language is resolved once per request: every feature reads the same two tables.
    words, labels = phrases(WHY_PHRASES), phrases(CATEGORY_LABELS)
    features = [_feature(row, query, card_tier or "", now, words, labels) for row in rows]
    return {"type": "FeatureCollection", "features": features, "count": len(features),
            "categories": categories}


def _feature(row: Any, query: OffersNearbyQuery, tier: str, now: datetime,
             words: Mapping[str, str], labels: Mapping[str, str]) -> dict[str, Any]:
    _, bearing = geodesic_inverse(query.lat, query.lon, row["store_lat"], row["store_lon"])
    benefit = benefit_json(row["benefit_type"], row["benefit_percent"], row["benefit_amount"],
                           row["benefit_currency"], row["benefit_text"])
    properties = {
        "id": str(row["public_id"]),
        "title": row["title"],
        "description": row["description"],
        "terms": row["terms"],
        "category": row["category"],
        "category_label": category_label(row["category"], labels),
        "benefit": benefit,
        "valid_from": row["valid_from"].isoformat(),
        "valid_until": row["valid_until"].isoformat(),
        "merchant": {"id": str(row["merchant_public_id"]), "name": row["merchant_name"]},
        "store": {"id": str(row["store_public_id"]), "name": row["store_name"],
                  "address": {"street": row["street"], "locality": row["locality"],
                              "postcode": row["postcode"], "country": row["country"]}},
        "distance_m": round(row["distance_m"], 1),
        "bearing_deg": round(bearing, 1),
        "in_area": row["in_area"],
        "why": why_lines(row["category"], row["distance_m"], row["in_area"], tier,
                         row["valid_until"], row["timezone"], now, words, labels),
    }
    return {"type": "Feature", "id": properties["id"],
            "geometry": {"type": "Point", "coordinates": [round(row["store_lon"], 7),
                                                          round(row["store_lat"], 7)]},
            "properties": properties}


# The `why` lines' words, translated once per language (backend/i18n.py).
WHY_PHRASES = {
    "enabled": N_("You enabled offers in {category}"),
    "inside": N_("You are inside the area where this offer applies"),
    "nearest_store": N_("Its nearest store is {distance} from you"),
    "from_you": N_("{distance} from you"),
    "valid": N_("Valid for {tier} cards until {until}"),
    "under_10_m": N_("less than 10 m"),
    "metres": N_("{n} m"),
    "kilometres": N_("{n} km"),
    # A day: {day} of the month, {mon} the English month abbreviation, {month} its number.
    "day": N_("{day} {mon}"),
    "day_year": N_("{day} {mon} {year}"),
    "time_on_day": N_("{time} on {date}"),
    "classic": N_("classic"),
    "gold": N_("gold"),
    "platinum": N_("platinum"),
}
# Offer categories as a cardholder reads them.
CATEGORY_LABELS = {
    "dining": N_("dining"), "cafes": N_("cafes"), "groceries": N_("groceries"),
    "fashion": N_("fashion"), "electronics": N_("electronics"),
    "health_and_beauty": N_("health and beauty"), "home_and_garden": N_("home and garden"),
    "entertainment": N_("entertainment"), "travel": N_("travel"), "fuel": N_("fuel"),
}


def category_label(category: str, labels: Mapping[str, str] = CATEGORY_LABELS) -> str:
    """'health_and_beauty' -> 'health and beauty' (or its `labels` translation)."""
    return labels.get(category) or category.replace("_", " ")


def distance_text(distance_m: float, words: Mapping[str, str] = WHY_PHRASES) -> str:
    """A distance as a person says it: '300 m', '1.2 km'."""
    if distance_m < 10:
        return words["under_10_m"]
    if distance_m < 995:
        return words["metres"].format(n=f"{round(distance_m, -1):.0f}")
    return words["kilometres"].format(n=f"{distance_m / 1000:.1f}")


def until_text(valid_until: datetime, timezone: str, now: datetime,
               words: Mapping[str, str] = WHY_PHRASES) -> str:
    """When an offer ends, in the store's time zone: '31 Dec', '18:00 on 31 Dec', '31 Dec 2027'.

    An end at local midnight means the offer lasts the whole of the day before.
    """
    zone = ZoneInfo(timezone)
    end = valid_until.astimezone(zone)
    midnight = (end.hour, end.minute, end.second, end.microsecond) == (0, 0, 0, 0)
    day = (end - timedelta(days=1)).date() if midnight else end.date()
    parts = {"day": day.day, "mon": f"{day:%b}", "month": day.month, "year": day.year}
    other_year = day.year != now.astimezone(zone).year
    label = words["day_year" if other_year else "day"].format(**parts)
    return label if midnight else words["time_on_day"].format(time=f"{end:%H:%M}", date=label)


def why_lines(category: str, distance_m: float, in_area: bool, tier: str,
              valid_until: datetime, timezone: str, now: datetime,
              words: Mapping[str, str] = WHY_PHRASES,
              labels: Mapping[str, str] = CATEGORY_LABELS) -> list[str]:
    """Why an offer is shown, as true statements computed from the data, in `words`' language."""
    distance = distance_text(distance_m, words)
    lines = [words["enabled"].format(category=category_label(category, labels))]
    if in_area:
        lines.append(words["inside"])
        lines.append(words["nearest_store"].format(distance=distance))
    else:
        line = words["from_you"].format(distance=distance)
        lines.append(line[0].upper() + line[1:])
    tier_name = words.get(tier, tier) if tier in vocab.CARD_TIERS else tier
    lines.append(words["valid"].format(tier=tier_name,
                                       until=until_text(valid_until, timezone, now, words)))
    return lines
