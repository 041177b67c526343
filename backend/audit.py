"""The audit trail: who did what to which object, when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.db import Base


class AuditRecord(Base):
    """Who did what to which object, when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")


def record_audit(session: Session, action: str, object_type: str, object_id: str,
                 actor_id: int | None, **details: object) -> None:
    """Append an audit record in the caller's transaction."""
    session.add(AuditRecord(action=action, object_type=object_type, object_id=object_id,
                            actor_id=actor_id, details=details))
