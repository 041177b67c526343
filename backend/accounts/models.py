"""Users, revoked login sessions, and cardholders' consent to promotions with its ledger."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base


class User(Base):
    """A person or machine that signs in: cardholder, maintainer, merchant, reviewer, admin or
    queue_system (a branch's queue-management system)."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('cardholder', 'maintainer', 'merchant', 'reviewer', 'admin', "
            "'queue_system')",
            name="ck_users_role",
        ),
        CheckConstraint(
            "card_tier IS NULL OR card_tier IN ('classic', 'gold', 'platinum')",
            name="ck_users_card_tier",
        ),
        Index("uq_users_email_lower", func.lower("email"), unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    public_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), unique=True, default=uuid.uuid4, server_default=func.gen_random_uuid()
    )
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    display_name: Mapped[str | None] = mapped_column(String(120))
    card_tier: Mapped[str | None] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class RevokedSession(Base):
    """A login session ended by logout: every token carrying its `sid` is refused."""

    __tablename__ = "token_blocklist"

    session_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    revoked_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # After this instant no token of the session is valid anyway; the row can be purged.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Consent(Base):
    """A cardholder's current choice about promotions; no row means off."""

    __tablename__ = "consents"
    __table_args__ = (
        CheckConstraint("max_offers BETWEEN 1 AND 20", name="ck_consents_max_offers"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    promotions_enabled: Mapped[bool] = mapped_column(default=False, server_default="false")
    categories: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list,
                                                  server_default="{}")
    max_offers: Mapped[int] = mapped_column(SmallInteger, default=5, server_default="5")
    policy_version: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class ConsentEvent(Base):
    """One entry of the append-only consent ledger: a grant, a change or a withdrawal.

    The one update allowed (a trigger checks it) is forgetting whose entry it is, at erasure.
    """

    __tablename__ = "consent_events"
    __table_args__ = (
        CheckConstraint("action IN ('granted', 'changed', 'withdrawn')",
                        name="ck_consent_events_action"),
        Index("ix_consent_events_user_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    # NULL once the account is erased: the entry then names no one (proof that consent existed).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # A random id given at erasure, grouping an erased person's entries; derived from nothing.
    erased_subject: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str] = mapped_column(String(16))
    promotions_enabled: Mapped[bool] = mapped_column()
    categories: Mapped[list[str]] = mapped_column(ARRAY(Text))
    max_offers: Mapped[int] = mapped_column(SmallInteger)
    # The notice version the cardholder named; NULL for a withdrawal that named none.
    policy_version: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
