"""Merchants, their stores and offers, the review workflow, and per-offer daily reach.

A merchant reaches only its own merchant, stores and offers: every lookup is by (public id,
merchant), so another merchant's id answers 404 exactly like an id that does not exist.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point, mapping
from sqlalchemy import select, text
from sqlalchemy.orm import Session, selectinload

from backend.accounts.service import create_user
from backend.db import get_by_public_id
from backend.errors import BadRequest, Conflict, NotFound
from backend.geocoding import Geocoder, GeocodingUnavailable
from backend.offers import reach
from backend.offers.areas import Area, geodesic_area_m2
from backend.offers.models import Merchant, Offer, Store
from backend.paging import AfterId, decode_cursor, encode_cursor, split_page
from backend.regions import in_service_region, region_containing, timezone_of

_SERVICE_REGIONS = "Great Britain, Singapore and Hong Kong"


def _uuid(value: str | uuid.UUID, what: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"No {what} of yours has this id.") from None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- merchants --------------------------------------------------------------------------------

def register_merchant(session: Session, fields: dict[str, Any]) -> Merchant:
    """Create a merchant user (argon2 password) and its unverified merchant.

    :raises BadRequest: for a password or e-mail address the accounts service refuses.
    :raises Conflict: when the e-mail address is taken.
    """
    fields = dict(fields)
    email, password = fields.pop("email"), fields.pop("password")
    user = create_user(session, email, password, "merchant", display_name=fields["name"][:120],
                       commit=False)
    fields.setdefault("contact_email", user.email)
    merchant = Merchant(user_id=user.id, verification_status="unverified", **fields)
    session.add(merchant)
    session.commit()
    return merchant


def merchant_of_user(session: Session, user_id: int) -> Merchant:
    """The merchant of a merchant user.

    :raises NotFound: when the user registered no merchant.
    """
    merchant = session.scalars(select(Merchant).where(Merchant.user_id == user_id)).first()
    if merchant is None:
        raise NotFound("This user has no merchant; register one with POST /api/v1/merchants.")
    return merchant


def update_merchant(session: Session, merchant: Merchant, changes: dict[str, Any]) -> Merchant:
    """Change a merchant's own details; a new name needs verifying again."""
    if "name" in changes and changes["name"] != merchant.name \
            and merchant.verification_status == "verified":
        # The reviewer verified the business under its name: a new one is verified afresh.
        merchant.verification_status = "unverified"
        merchant.verified_at = None
        merchant.verification_reason = None
    for name, value in changes.items():
        setattr(merchant, name, value)
    session.commit()
    return merchant


def merchant_json(merchant: Merchant) -> dict[str, Any]:
    """A merchant as the API shows it."""
    return {
        "id": str(merchant.public_id),
        "name": merchant.name,
        "category": merchant.category,
        "contact_name": merchant.contact_name,
        "contact_email": merchant.contact_email,
        "contact_phone": merchant.contact_phone,
        "website": merchant.website,
        "max_offers_shown": merchant.max_offers_shown,
        "verification": {"status": merchant.verification_status,
                         "reason": merchant.verification_reason,
                         "verified_at": _iso(merchant.verified_at)},
        "created_at": _iso(merchant.created_at),
        "updated_at": _iso(merchant.updated_at),
        "version": merchant.version,
    }


# --- stores -----------------------------------------------------------------------------------

def _store_point(fields: dict[str, Any], geocoder: Geocoder | None) -> tuple[float, float, bool]:
    """(lat, lon, geocoded) of a store from its location, or from its address."""
    if fields.get("location") is not None:
        lat, lon = fields["location"]
        return lat, lon, False
    address = ", ".join(str(fields[k]) for k in ("street", "locality", "postcode")
                        if fields.get(k))
    if not address:
        raise BadRequest("The store needs a location or an address.", [
            {"field": "location", "message": "Give a location, or a street or postcode."}])
    if geocoder is None:
        raise GeocodingUnavailable("No geocoder is configured; give the store's location.")
    try:
        found = geocoder.geocode(address, fields.get("country"))
    except GeocodingUnavailable:
        raise GeocodingUnavailable("The address cannot be geocoded right now; try again later "
                                  "or give the store's location.") from None
    if found is None:
        raise BadRequest("The address was not found.", [
            {"field": "street", "message": "No place matches this address; check it, or give "
                                           "the store's location."}])
    return found[0], found[1], True


def _place_store(store: Store, fields: dict[str, Any], geocoder: Geocoder | None) -> None:
    lat, lon, geocoded = _store_point(fields, geocoder)
    country = in_service_region(lat, lon)
    if country is None:
        field = "street" if geocoded else "location"
        where = "The address was found" if geocoded else "The point is"
        raise BadRequest("The store is outside our service regions.", [
            {"field": field, "message": f"{where} outside our service regions "
                                        f"({_SERVICE_REGIONS})."}])
    if fields.get("country") and fields["country"] != country:
        raise BadRequest("The country does not match the store's location.", [
            {"field": "country", "message": f"The store's location is in {country}."}])
    store.country = country
    store.timezone = timezone_of(country)
    store.location = from_shape(Point(lon, lat), srid=4326)
    store.geocoded = geocoded


_ADDRESS = ("street", "locality", "postcode")


def create_store(session: Session, merchant: Merchant, fields: dict[str, Any],
                 geocoder: Geocoder | None) -> Store:
    """Add a store at its point, or at its geocoded address.

    :raises BadRequest: when the address is not found or the point is outside our regions.
    :raises GeocodingUnavailable: when the address cannot be geocoded now.
    """
    store = Store(merchant_id=merchant.id, name=fields["name"],
                  **{k: fields.get(k) for k in _ADDRESS})
    _place_store(store, fields, geocoder)
    session.add(store)
    session.commit()
    return store


def list_stores(session: Session, merchant: Merchant) -> list[Store]:
    """The merchant's stores by id."""
    return list(session.scalars(select(Store).where(Store.merchant_id == merchant.id)
                                .order_by(Store.id)))


def get_store(session: Session, merchant: Merchant, store_id: str | uuid.UUID) -> Store:
    """One of the merchant's stores.

    :raises NotFound: when the merchant has no store with that id.
    """
    store = session.scalars(select(Store).where(Store.public_id == _uuid(store_id, "store"),
                                                Store.merchant_id == merchant.id)).first()
    if store is None:
        raise NotFound("No store of yours has this id.")
    return store


def update_store(session: Session, merchant: Merchant, store_id: str,
                 changes: dict[str, Any], geocoder: Geocoder | None) -> Store:
    """Change a store; a new address without a new location is geocoded again.

    :raises NotFound: when the merchant has no store with that id.
    :raises BadRequest: as create_store.
    """
    store = get_store(session, merchant, store_id)
    moved = "location" in changes or any(
        k in changes and changes[k] != getattr(store, k) for k in (*_ADDRESS, "country"))
    for name in ("name", *_ADDRESS):
        if name in changes:
            setattr(store, name, changes[name])
    if moved:
        merged = {k: getattr(store, k) for k in _ADDRESS}
        merged["country"] = changes.get("country")
        merged["location"] = changes.get("location")
        _place_store(store, merged, geocoder)
    session.commit()
    return store


def delete_store(session: Session, merchant: Merchant, store_id: str) -> None:
    """Delete a store and take it out of the merchant's offers.

    :raises NotFound: when the merchant has no store with that id.
    :raises Conflict: when it is the only store of an offer that is not withdrawn.
    """
    store = get_store(session, merchant, store_id)
    only_store_of = session.scalars(text("""
        SELECT o.public_id FROM offers o JOIN offer_stores os ON os.offer_id = o.id
        WHERE os.store_id = :store AND o.status <> 'withdrawn'
          AND NOT EXISTS (SELECT 1 FROM offer_stores other
                          WHERE other.offer_id = o.id AND other.store_id <> :store)
        ORDER BY o.id
    """), {"store": store.id}).all()
    if only_store_of:
        raise Conflict("The store is the only store of some of your offers; give them another "
                       "store or withdraw them first.",
                       offers=[str(public_id) for public_id in only_store_of])
    session.delete(store)
    session.commit()


def store_json(store: Store) -> dict[str, Any]:
    """A store as the API shows it."""
    point = to_shape(store.location)
    return {
        "id": str(store.public_id),
        "name": store.name,
        "address": {"street": store.street, "locality": store.locality,
                    "postcode": store.postcode, "country": store.country},
        "country": store.country,
        "timezone": store.timezone,
        "location": {"type": "Point", "coordinates": [round(point.x, 7), round(point.y, 7)]},
        "geocoded": store.geocoded,
        "created_at": _iso(store.created_at),
        "updated_at": _iso(store.updated_at),
    }


# --- offers -----------------------------------------------------------------------------------

_BENEFIT_COLUMNS = {"percent": "benefit_percent", "amount": "benefit_amount",
                    "currency": "benefit_currency", "text": "benefit_text"}


def _own_stores(session: Session, merchant: Merchant, store_ids: list[uuid.UUID]) -> list[Store]:
    wanted = list(dict.fromkeys(store_ids))
    stores = session.scalars(select(Store).where(Store.public_id.in_(wanted),
                                                 Store.merchant_id == merchant.id)
                             .order_by(Store.id)).all()
    found = {s.public_id for s in stores}
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        raise BadRequest("Some stores are not yours or do not exist.", [
            {"field": "store_ids", "message": f"No store of yours has id {i}."}
            for i in missing])
    return list(stores)


def _set_benefit(offer: Offer, benefit: dict[str, Any]) -> None:
    offer.benefit_type = benefit["type"]
    for key, column in _BENEFIT_COLUMNS.items():
        value = benefit.get(key)
        if isinstance(value, Decimal):
            value = value.quantize(Decimal("0.01"))  # as the numeric(…, 2) column keeps it
        setattr(offer, column, value)


def _check_offer(offer: Offer, area: Area | None, stores: list[Store], now: datetime) -> None:
    errors = []
    if not offer.valid_from < offer.valid_until:
        errors.append({"field": "valid_until", "message": "Must be after valid_from."})
    if offer.valid_until <= now:
        errors.append({"field": "valid_until", "message": "Has already passed."})
    if area is not None and area.country not in {s.country for s in stores}:
        errors.append({"field": "area", "message": "The area must be in the same market as "
                                                   "the offer's stores."})
    if errors:
        raise BadRequest("The offer cannot be saved.", errors)


def create_offer(session: Session, merchant: Merchant, fields: dict[str, Any],
                 now: datetime) -> Offer:
    """Create an offer for some of the merchant's stores: pending review, or a draft.

    :raises BadRequest: for another merchant's store, a past end, or an area elsewhere.
    """
    stores = _own_stores(session, merchant, fields["store_ids"])
    area: Area | None = fields.get("area")
    submit = fields.get("submit", True)
    offer = Offer(merchant_id=merchant.id, title=fields["title"],
                  description=fields["description"], terms=fields["terms"],
                  category=fields["category"], valid_from=fields["valid_from"],
                  valid_until=fields["valid_until"],
                  eligible_tiers=list(dict.fromkeys(fields["eligible_tiers"])),
                  area=from_shape(area.polygon, srid=4326) if area else None,
                  status="pending_review" if submit else "draft",
                  submitted_at=now if submit else None)
    _set_benefit(offer, fields["benefit"])
    _check_offer(offer, area, stores, now)
    offer.stores = stores
    session.add(offer)
    session.commit()
    return offer


def list_offers(session: Session, merchant: Merchant, status: str | None = None) -> list[Offer]:
    """The merchant's offers by id, optionally of one status."""
    query = (select(Offer).where(Offer.merchant_id == merchant.id).order_by(Offer.id)
             .options(selectinload(Offer.stores)))
    if status:
        query = query.where(Offer.status == status)
    return list(session.scalars(query))


def get_offer(session: Session, merchant: Merchant, offer_id: str | uuid.UUID) -> Offer:
    """One of the merchant's offers.

    :raises NotFound: when the merchant has no offer with that id.
    """
    offer = session.scalars(select(Offer).where(Offer.public_id == _uuid(offer_id, "offer"),
                                                Offer.merchant_id == merchant.id)).first()
    if offer is None:
        raise NotFound("No offer of yours has this id.")
    return offer


def update_offer(session: Session, merchant: Merchant, offer_id: str,
                 changes: dict[str, Any], now: datetime) -> Offer:
    """Change an offer; a change to an approved or rejected offer sends it back to review.

    :raises NotFound: when the merchant has no offer with that id.
    :raises Conflict: when the offer is withdrawn.
    :raises BadRequest: as create_offer.
    """
    offer = get_offer(session, merchant, offer_id)
    if offer.status == "withdrawn":
        raise Conflict("A withdrawn offer cannot change; create a new one.")
    if not changes:
        return offer
    stores = (_own_stores(session, merchant, changes["store_ids"]) if "store_ids" in changes
              else list(offer.stores))
    for name in ("title", "description", "terms", "category", "valid_from", "valid_until"):
        if name in changes:
            setattr(offer, name, changes[name])
    if "eligible_tiers" in changes:
        offer.eligible_tiers = list(dict.fromkeys(changes["eligible_tiers"]))
    if "benefit" in changes:
        _set_benefit(offer, changes["benefit"])
    area: Area | None = None
    if "area" in changes:
        area = changes["area"]
        offer.area = from_shape(area.polygon, srid=4326) if area else None
    elif offer.area is not None:
        area = _stored_area(offer)
    _check_offer(offer, area, stores, now)
    offer.stores = stores
    if offer.status in ("approved", "rejected"):
        offer.status = "pending_review"
        offer.submitted_at = now
        offer.review_reason = None
    session.commit()
    return offer


def _stored_area(offer: Offer) -> Area:
    polygon = to_shape(offer.area)
    return Area(polygon, _area_km2(polygon), region_containing(polygon) or "")


def _area_km2(polygon: Any) -> float:
    rings = [list(polygon.exterior.coords)] + [list(r.coords) for r in polygon.interiors]
    return (geodesic_area_m2(rings[0]) - sum(geodesic_area_m2(r) for r in rings[1:])) / 1e6


def submit_offer(session: Session, merchant: Merchant, offer_id: str, now: datetime) -> Offer:
    """Send a draft or rejected offer to review (a pending one stays pending).

    :raises NotFound: when the merchant has no offer with that id.
    :raises Conflict: when the offer is approved or withdrawn.
    """
    offer = get_offer(session, merchant, offer_id)
    if offer.status in ("approved", "withdrawn"):
        raise Conflict(f"The offer is {offer.status}; only drafts and rejected offers can be "
                       "submitted.")
    if offer.status != "pending_review":
        if offer.valid_until <= now:
            raise BadRequest("The offer has expired.", [
                {"field": "valid_until", "message": "Has already passed."}])
        offer.status = "pending_review"
        offer.submitted_at = now
        offer.review_reason = None
        session.commit()
    return offer


def withdraw_offer(session: Session, merchant: Merchant, offer_id: str) -> None:
    """Withdraw an offer: never shown again, kept with its show counts.

    :raises NotFound: when the merchant has no offer with that id.
    """
    offer = get_offer(session, merchant, offer_id)
    offer.status = "withdrawn"
    session.commit()


def offer_stats(session: Session, merchant: Merchant, offer_id: str, today: date,
                day_from: date | None = None, day_to: date | None = None,
                rng: random.Random = reach.SYSTEM_RANDOM) -> dict[str, Any]:
    """How many cardholders the offer reached per ended UTC day, with differential-privacy noise.

    Days not yet published are published now (noise drawn once and stored).

    :raises NotFound: when the merchant has no offer with that id.
    """
    offer = get_offer(session, merchant, offer_id)
    reach.publish_ended_days(session, today, rng, offer_id=offer.id, day_from=day_from,
                             day_to=day_to)
    session.commit()
    days = reach.published_days(session, offer.id, day_from, day_to)
    return {"offer_id": str(offer.public_id), "days": days,
            "total_cardholder_days": sum(d["cardholders"] for d in days),
            "published_through": reach.yesterday(today).isoformat(),
            "privacy": {"mechanism": reach.MECHANISM, "epsilon_per_day": reach.EPSILON,
                        "noise_sd": round(reach.noise_sd(), 2),
                        "guess_bound": round(reach.guess_bound(), 4)}}


def benefit_json(kind: str, percent: Decimal | None, amount: Decimal | None,
                 currency: str | None, text_: str | None) -> dict[str, Any]:
    """The benefit's fields with a short human summary."""
    result: dict[str, Any] = {"type": kind}
    if kind == "percent_off":
        result["percent"] = str(percent)
    elif kind == "amount_off":
        result.update(amount=str(amount), currency=currency)
    else:
        result["text"] = text_
    result["summary"] = benefit_summary(kind, percent, amount, currency, text_)
    return result


_SYMBOLS = {"GBP": "£", "SGD": "S$", "HKD": "HK$"}


def benefit_summary(kind: str, percent: Decimal | None, amount: Decimal | None,
                    currency: str | None, text_: str | None) -> str:
    """'20% off', '£5 off', or the merchant's text."""
    if kind == "percent_off" and percent is not None:
        return f"{_plain(percent)}% off"
    if kind == "amount_off" and amount is not None:
        symbol = _SYMBOLS.get(currency or "")
        return f"{symbol}{_plain(amount)} off" if symbol else f"{_plain(amount)} {currency} off"
    return text_ or ""


def _plain(value: Decimal) -> str:
    return f"{value:f}".rstrip("0").rstrip(".") if "." in f"{value:f}" else f"{value:f}"


def is_visible(offer: Offer, now: datetime) -> bool:
    """Whether cardholders can be shown the offer now (tier, category and place aside)."""
    return (offer.status == "approved" and offer.valid_from <= now < offer.valid_until
            and offer.merchant.verification_status == "verified")


def offer_json(offer: Offer, now: datetime, for_reviewer: bool = False) -> dict[str, Any]:
    """An offer as its merchant (or, with more context, a reviewer) sees it."""
    area = None
    area_km2 = None
    if offer.area is not None:
        polygon = to_shape(offer.area)
        area = json.loads(json.dumps(mapping(polygon)))  # tuples to lists
        area_km2 = round(_area_km2(polygon), 3)
    result = {
        "id": str(offer.public_id),
        "status": offer.status,
        "expired": offer.valid_until <= now,
        "visible_now": is_visible(offer, now),
        "title": offer.title,
        "description": offer.description,
        "terms": offer.terms,
        "category": offer.category,
        "benefit": benefit_json(offer.benefit_type, offer.benefit_percent,
                                offer.benefit_amount, offer.benefit_currency,
                                offer.benefit_text),
        "valid_from": offer.valid_from.isoformat(),
        "valid_until": offer.valid_until.isoformat(),
        "eligible_tiers": list(offer.eligible_tiers),
        "store_ids": [str(s.public_id) for s in offer.stores],
        "area": area,
        "area_km2": area_km2,
        "review": {"reason": offer.review_reason, "submitted_at": _iso(offer.submitted_at),
                   "reviewed_at": _iso(offer.reviewed_at)},
        "created_at": _iso(offer.created_at),
        "updated_at": _iso(offer.updated_at),
        "version": offer.version,
    }
    if for_reviewer:
        result["merchant"] = {"id": str(offer.merchant.public_id), "name": offer.merchant.name,
                              "verification_status": offer.merchant.verification_status}
        result["stores"] = [store_json(s) for s in offer.stores]
    return result


# --- review -----------------------------------------------------------------------------------

def _page(session: Session, query: Any, model: Any, limit: int,
          cursor: str | None) -> tuple[list[Any], str | None]:
    if cursor:
        query = query.where(model.id > decode_cursor(cursor, AfterId).i)
    page, more = split_page(list(session.scalars(query.order_by(model.id).limit(limit + 1))),
                            limit)
    return page, encode_cursor(AfterId(page[-1].id)) if more else None


def offers_for_review(session: Session, status: str, limit: int, cursor: str | None,
                      now: datetime) -> dict[str, Any]:
    """Offers of a status (`pending` means pending_review), oldest first, one page."""
    status = "pending_review" if status == "pending" else status
    query = select(Offer).where(Offer.status == status).options(
        selectinload(Offer.stores), selectinload(Offer.merchant))
    page, next_cursor = _page(session, query, Offer, limit, cursor)
    return {"items": [offer_json(o, now, for_reviewer=True) for o in page],
            "next_cursor": next_cursor}


def offer_for_review(session: Session, offer_id: str) -> Offer:
    """Any merchant's offer, for a reviewer.

    :raises NotFound: when no offer has that id.
    """
    return get_by_public_id(session, Offer, offer_id, "offer")


def approve_offer(session: Session, offer_id: str, reviewer_id: int, now: datetime,
                  seen_version: int) -> Offer:
    """Approve a pending offer, exactly as the reviewer saw it.

    :raises NotFound: when no offer has that id.
    :raises Conflict: when the offer is not pending review, or changed since the reviewer
        loaded it (`seen_version`).
    """
    offer = _locked(session, Offer, offer_for_review(session, offer_id))
    if offer.status != "pending_review":
        raise Conflict(f"Only offers pending review can be approved; this one is {offer.status}.")
    _same_as_seen(offer.version, seen_version, "offer")
    offer.status = "approved"
    offer.review_reason = None
    offer.reviewed_by, offer.reviewed_at = reviewer_id, now
    session.commit()
    return offer


def _locked(session: Session, model: Any, row: Any) -> Any:
    """The row again, locked and fresh: an edit cannot slip in between check and approval."""
    return session.scalars(select(model).where(model.id == row.id).with_for_update()
                           .execution_options(populate_existing=True)).one()


def _same_as_seen(version: int, seen: int, what: str) -> None:
    if version != seen:
        raise Conflict(f"The {what} changed after you opened it; load it again and review "
                       "what it says now.", current_version=version)


def reject_offer(session: Session, offer_id: str, reviewer_id: int, reason: str,
                 now: datetime) -> Offer:
    """Reject a pending (or pull an approved) offer, with a reason the merchant sees.

    :raises NotFound: when no offer has that id.
    :raises Conflict: when the offer is neither pending review nor approved.
    """
    offer = offer_for_review(session, offer_id)
    if offer.status not in ("pending_review", "approved"):
        raise Conflict(f"Only pending or approved offers can be rejected; this one is "
                       f"{offer.status}.")
    offer.status = "rejected"
    offer.review_reason = reason
    offer.reviewed_by, offer.reviewed_at = reviewer_id, now
    session.commit()
    return offer


def merchants_for_review(session: Session, status: str, limit: int,
                         cursor: str | None) -> dict[str, Any]:
    """Merchants of a verification status, oldest first, one page."""
    page, next_cursor = _page(
        session, select(Merchant).where(Merchant.verification_status == status), Merchant,
        limit, cursor)
    return {"items": [merchant_json(m) for m in page], "next_cursor": next_cursor}


def merchant_for_review(session: Session, merchant_id: str) -> Merchant:
    """Any merchant, for a reviewer.

    :raises NotFound: when no merchant has that id.
    """
    return get_by_public_id(session, Merchant, merchant_id, "merchant")


def verify_merchant(session: Session, merchant_id: str, reviewer_id: int,
                    now: datetime, seen_version: int) -> Merchant:
    """Verify a merchant, exactly as the reviewer saw it: its approved offers can now be shown.

    :raises NotFound: when no merchant has that id.
    :raises Conflict: when it is verified already, or changed since the reviewer loaded it.
    """
    merchant = _locked(session, Merchant, merchant_for_review(session, merchant_id))
    if merchant.verification_status == "verified":
        raise Conflict("The merchant is verified already.")
    _same_as_seen(merchant.version, seen_version, "merchant")
    merchant.verification_status = "verified"
    merchant.verification_reason = None
    merchant.verified_at = now
    merchant.reviewed_by, merchant.reviewed_at = reviewer_id, now
    session.commit()
    return merchant


def reject_merchant(session: Session, merchant_id: str, reviewer_id: int, reason: str,
                    now: datetime) -> Merchant:
    """Refuse (or revoke) a merchant's verification, with a reason it sees.

    :raises NotFound: when no merchant has that id.
    :raises Conflict: when it is rejected already.
    """
    merchant = merchant_for_review(session, merchant_id)
    if merchant.verification_status == "rejected":
        raise Conflict("The merchant is rejected already.")
    merchant.verification_status = "rejected"
    merchant.verification_reason = reason
    merchant.verified_at = None
    merchant.reviewed_by, merchant.reviewed_at = reviewer_id, now
    session.commit()
    return merchant

