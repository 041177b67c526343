"""Places (branch, ATM, partner outlet), their change history and per-source versions."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from decimal import Decimal

from geoalchemy2 import Geography
from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base


class Place(Base):
    """A point where a cardholder can be served: branch, ATM or partner outlet."""

    __tablename__ = "places"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_places_source_external_id"),
        CheckConstraint("kind IN ('branch', 'atm', 'partner_outlet')", name="ck_places_kind"),
        CheckConstraint(
            "status IN ('active', 'temporarily_closed', 'decommissioned')", name="ck_places_status"
        ),
        CheckConstraint("country ~ '^[A-Z]{2}$'", name="ck_places_country"),
        Index("ix_places_location", "location", postgresql_using="gist"),
        Index("ix_places_location_geometry", text("(location::geometry)"),
              postgresql_using="gist"),
        Index("ix_places_services", "services", postgresql_using="gin"),
        Index("ix_places_source", "source"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    public_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), unique=True, default=uuid.uuid4, server_default=func.gen_random_uuid()
    )
    kind: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(Text)
    brand: Mapped[str | None] = mapped_column(Text)
    street: Mapped[str | None] = mapped_column(Text)
    locality: Mapped[str | None] = mapped_column(Text)
    region: Mapped[str | None] = mapped_column(Text)
    postcode: Mapped[str | None] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2))
    location = mapped_column(
        Geography(geometry_type="POINT", srid=4326, spatial_index=False), nullable=False
    )
    timezone: Mapped[str] = mapped_column(String(64))
    opening_hours: Mapped[dict | None] = mapped_column(JSONB(none_as_null=True))
    services: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    accessibility: Mapped[list[str]] = mapped_column(
        ARRAY(Text), default=list, server_default="{}"
    )
    repayment_methods: Mapped[list[str]] = mapped_column(
        ARRAY(Text), default=list, server_default="{}"
    )
    repayment_fee: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    repayment_fee_currency: Mapped[str | None] = mapped_column(String(3))
    repayment_posting: Mapped[str | None] = mapped_column(String(32))
    repayment_cutoff: Mapped[time | None] = mapped_column(Time)
    phone: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    last_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The upload batch that last wrote this place (the uploads workflow owns that table).
    upload_batch_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("upload_batches.id", ondelete="SET NULL")
    )
    # Incremented on every change; rollback and apply compare it to detect later edits.
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class PlaceSource(Base):
    """A data source's version: every change to its places increments it."""

    __tablename__ = "place_sources"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class PlaceHistory(Base):
    """One change of one place: by an upload batch, a rollback or a maintainer's edit."""

    __tablename__ = "place_history"
    __table_args__ = (
        Index("ix_place_history_place", "public_id", "id"),
        Index("ix_place_history_batch", "batch_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    place_id: Mapped[int] = mapped_column(BigInteger)
    public_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("upload_batches.id"))
    action: Mapped[str] = mapped_column(String(20))
    changed_fields: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    before: Mapped[dict | None] = mapped_column(JSONB)
    after: Mapped[dict | None] = mapped_column(JSONB)
    after_version: Mapped[int | None] = mapped_column(Integer)
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
