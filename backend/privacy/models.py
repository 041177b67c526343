"""Versioned privacy notices: the exact text a cardholder was shown, in each language."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base


class PrivacyNotice(Base):
    """One published version of a notice; never changed (a trigger refuses updates)."""

    __tablename__ = "privacy_notices"
    __table_args__ = (
        CheckConstraint("topic IN ('promotions')", name="ck_privacy_notices_topic"),
        CheckConstraint("version ~ '^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$'",
                        name="ck_privacy_notices_version"),
        UniqueConstraint("topic", "version", name="uq_privacy_notices_topic_version"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(32))
    # The newest version published on or before today is the current one.
    published_on: Mapped[date] = mapped_column(Date)
    title_en: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str] = mapped_column(Text)
    title_zh: Mapped[str] = mapped_column(Text)
    body_zh: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
