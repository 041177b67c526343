"""Users and revoked login sessions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base


class User(Base):
    """A person who signs in: cardholder, maintainer, merchant, reviewer or admin."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('cardholder', 'maintainer', 'merchant', 'reviewer', 'admin')",
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
