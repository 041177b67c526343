"""Merchants, their stores and offers, and the per-offer daily counts of cardholders."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from geoalchemy2 import Geography
from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base

MERCHANT_STATUSES = ("unverified", "verified", "rejected")
OFFER_STATUSES = ("draft", "pending_review", "approved", "rejected", "withdrawn")
BENEFIT_TYPES = ("percent_off", "amount_off", "text")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Merchant(Base):
    """A partner business with one merchant user; its offers are shown only once verified."""

    __tablename__ = "merchants"
    __table_args__ = (
        CheckConstraint(_in("verification_status", MERCHANT_STATUSES),
                        name="ck_merchants_verification_status"),
        CheckConstraint("max_offers_shown BETWEEN 1 AND 10", name="ck_merchants_max_offers_shown"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    # Incremented by the ORM on every change (and checked: a lost update raises StaleDataError);
    # a reviewer approves the version they saw.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}
    public_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), unique=True, default=uuid.uuid4, server_default=func.gen_random_uuid()
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))
    contact_name: Mapped[str | None] = mapped_column(Text)
    contact_email: Mapped[str] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    website: Mapped[str | None] = mapped_column(Text)
    # At most this many of the merchant's offers in one answer to a cardholder.
    max_offers_shown: Mapped[int] = mapped_column(SmallInteger, default=3, server_default="3")
    verification_status: Mapped[str] = mapped_column(
        String(20), default="unverified", server_default="unverified"
    )
    verification_reason: Mapped[str | None] = mapped_column(Text)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Store(Base):
    """A merchant's shop: an address and a point."""

    __tablename__ = "merchant_stores"
    __table_args__ = (
        Index("ix_merchant_stores_location", "location", postgresql_using="gist"),
        Index("ix_merchant_stores_merchant_id", "merchant_id"),
        CheckConstraint("country ~ '^[A-Z]{2}$'", name="ck_merchant_stores_country"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    public_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), unique=True, default=uuid.uuid4, server_default=func.gen_random_uuid()
    )
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    street: Mapped[str | None] = mapped_column(Text)
    locality: Mapped[str | None] = mapped_column(Text)
    postcode: Mapped[str | None] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2))
    timezone: Mapped[str] = mapped_column(String(64))
    location = mapped_column(
        Geography(geometry_type="POINT", srid=4326, spatial_index=False), nullable=False
    )
    # Whether the point came from geocoding the address rather than from the merchant.
    geocoded: Mapped[bool] = mapped_column(default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


offer_stores = Table(
    "offer_stores",
    Base.metadata,
    Column("offer_id", BigInteger, ForeignKey("offers.id", ondelete="CASCADE"),
           primary_key=True),
    Column("store_id", BigInteger, ForeignKey("merchant_stores.id", ondelete="CASCADE"),
           primary_key=True),
    Index("ix_offer_stores_store_id", "store_id"),
)


class Offer(Base):
    """A merchant's offer: what, where, when, for which card tiers, and its review state."""

    __tablename__ = "offers"
    __table_args__ = (
        CheckConstraint(_in("status", OFFER_STATUSES), name="ck_offers_status"),
        CheckConstraint(_in("benefit_type", BENEFIT_TYPES), name="ck_offers_benefit_type"),
        CheckConstraint(
            "(benefit_type = 'percent_off' AND benefit_percent > 0 AND benefit_percent <= 100)"
            " OR (benefit_type = 'amount_off' AND benefit_amount > 0"
            "     AND benefit_currency IS NOT NULL)"
            " OR (benefit_type = 'text' AND benefit_text IS NOT NULL)",
            name="ck_offers_benefit"),
        CheckConstraint("valid_from < valid_until", name="ck_offers_validity"),
        CheckConstraint("cardinality(eligible_tiers) > 0", name="ck_offers_eligible_tiers"),
        Index("ix_offers_area", "area", postgresql_using="gist"),
        Index("ix_offers_merchant_id", "merchant_id"),
        Index("ix_offers_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    # Incremented by the ORM on every change (and checked: a lost update raises StaleDataError);
    # a reviewer approves the version they saw.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}
    public_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), unique=True, default=uuid.uuid4, server_default=func.gen_random_uuid()
    )
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text)
    terms: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))
    benefit_type: Mapped[str] = mapped_column(String(16))
    benefit_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    benefit_amount: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    benefit_currency: Mapped[str | None] = mapped_column(String(3))
    benefit_text: Mapped[str | None] = mapped_column(String(200))
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    eligible_tiers: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # Optional area where the offer applies besides its stores' surroundings.
    area = mapped_column(Geography(geometry_type="POLYGON", srid=4326, spatial_index=False))
    status: Mapped[str] = mapped_column(String(20), default="draft", server_default="draft")
    review_reason: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    merchant: Mapped[Merchant] = relationship()
    stores: Mapped[list[Store]] = relationship(secondary=offer_stores, order_by=Store.id)


class OfferDayKey(Base):
    """The secret of one UTC day that turns a cardholder into an unlinkable viewer token.

    Deleted when the day has ended: the day's tokens can then no longer be tied to anyone.
    """

    __tablename__ = "offer_day_keys"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    key: Mapped[bytes] = mapped_column(LargeBinary)


class OfferDayViewer(Base):
    """One cardholder shown an offer on a day, as a keyed hash; counted, then deleted."""

    __tablename__ = "offer_day_viewers"
    __table_args__ = (Index("ix_offer_day_viewers_day", "day"),)

    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"),
                                          primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    viewer: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)


class OfferDailyReach(Base):
    """How many cardholders were shown an offer on an ended day, published once with noise."""

    __tablename__ = "offer_daily_reach"
    __table_args__ = (
        CheckConstraint("cardholders >= 0", name="ck_offer_daily_reach_cardholders"),
    )

    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"),
                                          primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    cardholders: Mapped[int] = mapped_column(BigInteger)
    epsilon: Mapped[float] = mapped_column(Float)
    published_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
