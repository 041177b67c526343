"""Queue systems' branch bindings, typical waits by hour of week, and remote tickets.

Live queue state is not here: it lives in Redis with a time-to-live (see store.py).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base

LINES = ("counter", "cash", "advisor", "priority")
TICKET_STATUSES = ("waiting", "checked_in", "called", "served", "cancelled", "lapsed")
ACTIVE_TICKET_STATUSES = ("waiting", "checked_in", "called")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class QueueSystemBranch(Base):
    """A branch a queue-system account may report for."""

    __tablename__ = "queue_system_branches"
    __table_args__ = (Index("ix_queue_system_branches_place_id", "place_id"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    place_id: Mapped[int] = mapped_column(ForeignKey("places.id", ondelete="CASCADE"),
                                          primary_key=True)


class QueueTypical(Base):
    """Sums of reported waits per branch line and hour of week (Monday 00:00 local = 0)."""

    __tablename__ = "queue_typical"
    __table_args__ = (
        CheckConstraint("hour_of_week BETWEEN 0 AND 167", name="ck_queue_typical_hour_of_week"),
        CheckConstraint(_in("line", LINES), name="ck_queue_typical_line"),
    )

    place_id: Mapped[int] = mapped_column(ForeignKey("places.id", ondelete="CASCADE"),
                                          primary_key=True)
    line: Mapped[str] = mapped_column(String(16), primary_key=True)
    hour_of_week: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    samples: Mapped[int] = mapped_column(Integer)
    wait_min_sum: Mapped[float] = mapped_column(Float)
    waiting_sum: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class QueueTicket(Base):
    """A cardholder's remote ticket for one line at one branch."""

    __tablename__ = "queue_tickets"
    __table_args__ = (
        CheckConstraint(_in("status", TICKET_STATUSES), name="ck_queue_tickets_status"),
        CheckConstraint(_in("line", LINES), name="ck_queue_tickets_line"),
        UniqueConstraint("place_id", "line", "service_date", "number",
                         name="uq_queue_tickets_number"),
        # One active ticket per cardholder, enforced by the database as well.
        Index("uq_queue_tickets_one_active", "user_id", unique=True,
              postgresql_where=text("status IN ('waiting', 'checked_in', 'called')")),
        Index("ix_queue_tickets_user_created", "user_id", "created_at"),
        Index("ix_queue_tickets_place_change", "place_id", "change_seq"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    public_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), unique=True, default=uuid.uuid4, server_default=func.gen_random_uuid()
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    place_id: Mapped[int] = mapped_column(ForeignKey("places.id", ondelete="CASCADE"))
    line: Mapped[str] = mapped_column(String(16))
    service_date: Mapped[date] = mapped_column(Date)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    # What the queue system last said: how many are ahead of this ticket.
    ahead: Mapped[int | None] = mapped_column(Integer)
    # Every change takes the next value: the queue system pulls changes after the last it saw.
    change_seq: Mapped[int] = mapped_column(
        BigInteger, server_default=text("nextval('queue_ticket_change_seq')"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    check_in_by: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
