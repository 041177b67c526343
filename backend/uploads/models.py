"""Upload batches, their staged rows and their issues."""

from __future__ import annotations

import uuid
from datetime import datetime

from geoalchemy2 import Geography
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    Time,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base


class UploadBatch(Base):
    """One uploaded file: validated, diffed, then applied or not, maybe rolled back."""

    __tablename__ = "upload_batches"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    public_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), unique=True, default=uuid.uuid4, server_default=func.gen_random_uuid()
    )
    source: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(10))
    filename: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20))
    base_version: Mapped[int] = mapped_column(BigInteger)
    summary: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    # The maintainer who submitted it; None when it came from the command line.
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_via: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    applied_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rolled_back_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    rolled_back_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# Staged rows are written with COPY and diffed in SQL, so a Core table is all they need.
upload_rows = Table(
    "upload_rows", Base.metadata,
    Column("batch_id", BigInteger, ForeignKey("upload_batches.id", ondelete="CASCADE"),
           primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("locator", Text),
    Column("source", String(64), nullable=False),
    Column("external_id", String(128), nullable=False),
    Column("action", String(20)),
    Column("place_id", BigInteger),
    Column("place_version", Integer),
    Column("changed_fields", ARRAY(Text)),
    Column("kind", String(20)),
    Column("name", Text),
    Column("brand", Text),
    Column("street", Text),
    Column("locality", Text),
    Column("region", Text),
    Column("postcode", String(16)),
    Column("country", String(2)),
    Column("location", Geography(geometry_type="POINT", srid=4326, spatial_index=False)),
    Column("timezone", String(64)),
    Column("opening_hours", JSONB),
    Column("services", ARRAY(Text)),
    Column("accessibility", ARRAY(Text)),
    Column("repayment_methods", ARRAY(Text)),
    Column("repayment_fee", Numeric(10, 2)),
    Column("repayment_fee_currency", String(3)),
    Column("repayment_posting", String(32)),
    Column("repayment_cutoff", Time),
    Column("phone", String(32)),
    Column("status", String(20)),
    Column("last_verified_at", DateTime(timezone=True)),
)


class UploadIssue(Base):
    """An error or warning about one record (or the whole file) of a batch."""

    __tablename__ = "upload_issues"
    __table_args__ = (Index("ix_upload_issues_batch", "batch_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("upload_batches.id", ondelete="CASCADE"))
    seq: Mapped[int | None] = mapped_column(BigInteger)
    locator: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(10))
    field: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    raw: Mapped[dict | None] = mapped_column(JSONB)
