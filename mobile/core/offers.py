"""Consent and offers as the API returns them (see docs/offers.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mobile.core.errors import MalformedResponse
from mobile.core.models import _get, _instant, _number, _strings


@dataclass(frozen=True)
class Consent:
    """The cardholder's current choice about promotions (off until they turn it on)."""

    promotions: bool
    categories: tuple[str, ...]
    max_offers: int
    policy_version: str | None
    current_policy_version: str | None
    available_categories: tuple[str, ...]
    updated_at: datetime | None

    @classmethod
    def parse(cls, body: Any) -> Consent:
        """Parse `GET/PUT /me/consent`."""
        return cls(
            promotions=_get(body, "promotions_enabled", bool),
            categories=_strings(body, "categories", optional=True),
            max_offers=int(_get(body, "max_offers", int)),
            policy_version=_get(body, "policy_version", str, optional=True),
            current_policy_version=_get(body, "current_policy_version", str, optional=True),
            available_categories=_strings(body, "available_categories", optional=True),
            updated_at=_instant(body, "updated_at"),
        )


@dataclass(frozen=True)
class ConsentEvent:
    """One entry of the consent ledger: granted, changed or withdrawn."""

    at: datetime | None
    action: str
    promotions: bool | None
    categories: tuple[str, ...]
    max_offers: int | None
    policy_version: str | None
    channel: str | None

    @classmethod
    def parse(cls, obj: Any) -> ConsentEvent:
        """Parse one ledger entry."""
        return cls(
            at=_instant(obj, "recorded_at"),
            action=_get(obj, "action", str),
            promotions=_get(obj, "promotions_enabled", bool, optional=True),
            categories=_strings(obj, "categories", optional=True),
            max_offers=_get(obj, "max_offers", int, optional=True),
            policy_version=_get(obj, "policy_version", str, optional=True),
            channel=_get(obj, "channel", str, optional=True),
        )

    @classmethod
    def parse_list(cls, body: Any) -> list[ConsentEvent]:
        """Parse `GET /me/consent/history`: `{"items": [...]}`, oldest first."""
        return [cls.parse(item) for item in _get(body, "items", list)]


@dataclass(frozen=True)
class Offer:
    """One offer near the cardholder, with why it was shown."""

    id: str
    title: str
    merchant: str
    benefit: str
    description: str | None
    terms: str | None
    category: str | None
    store: str | None
    distance_m: float | None
    bearing_deg: float | None
    valid_from: datetime | None
    valid_until: datetime | None
    why: tuple[str, ...]

    @classmethod
    def from_feature(cls, feature: Any) -> Offer:
        """Parse one Feature of `GET /offers/nearby`."""
        props = _get(feature, "properties", dict)
        merchant = _get(props, "merchant", dict)
        benefit = _get(props, "benefit", dict)
        store = _get(props, "store", dict, optional=True)
        return cls(
            id=_get(props, "id", str),
            title=_get(props, "title", str),
            merchant=_get(merchant, "name", str),
            benefit=_get(benefit, "summary", str),
            description=_get(props, "description", str, optional=True),
            terms=_get(props, "terms", str, optional=True),
            category=_get(props, "category", str, optional=True),
            store=_get(store, "name", str, optional=True) if store else None,
            distance_m=_number(props, "distance_m", optional=True),
            bearing_deg=_number(props, "bearing_deg", optional=True),
            valid_from=_instant(props, "valid_from"),
            valid_until=_instant(props, "valid_until"),
            why=_strings(props, "why"),
        )


def parse_offers(body: Any) -> list[Offer]:
    """Parse the FeatureCollection of `GET /offers/nearby`, nearest first."""
    if _get(body, "type", str) != "FeatureCollection":
        raise MalformedResponse("expected a FeatureCollection of offers")
    return [Offer.from_feature(f) for f in _get(body, "features", list)]


# The notice's language tags (BCP 47, as the API names them) for each of the app's languages.
NOTICE_LANGUAGES = {"en": "en", "zh_CN": "zh-Hans"}


@dataclass(frozen=True)
class Notice:
    """The promotions notice as served: its version and its text in each language."""

    version: str
    published_on: str | None
    texts: dict[str, tuple[str, str]]  # language tag -> (title, body)

    @classmethod
    def parse(cls, body: Any) -> Notice:
        """Parse `GET /privacy/notices/promotions`."""
        texts = {}
        for tag, text in _get(body, "texts", dict).items():
            texts[tag] = (_get(text, "title", str), _get(text, "body", str))
        if "en" not in texts:
            raise MalformedResponse("the notice has no English text")
        return cls(_get(body, "version", str), _get(body, "published_on", str, optional=True),
                   texts)

    def text(self, language: str) -> tuple[str, str]:
        """(title, body) in one of the app's languages, else English."""
        return self.texts.get(NOTICE_LANGUAGES.get(language, "en")) or self.texts["en"]
