"""Queue diversion: the queue_system role, its branch bindings, typical waits, remote tickets.

Revision ID: 0005_queues
Revises: 0004_privacy
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_queues"
down_revision = "0004_privacy"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
ROLES_BEFORE = ("cardholder", "maintainer", "merchant", "reviewer", "admin")
LINES = ("counter", "cash", "advisor", "priority")
TICKET_STATUSES = ("waiting", "checked_in", "called", "served", "cancelled", "lapsed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.drop_constraint("ck_users_role", "users", type_="check")
    op.create_check_constraint("ck_users_role", "users",
                               _in("role", (*ROLES_BEFORE, "queue_system")))

    op.create_table(
        "queue_system_branches",
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("place_id", sa.BigInteger(), sa.ForeignKey("places.id", ondelete="CASCADE"),
                  primary_key=True),
    )
    op.create_index("ix_queue_system_branches_place_id", "queue_system_branches", ["place_id"])

    op.create_table(
        "queue_typical",
        sa.Column("place_id", sa.BigInteger(), sa.ForeignKey("places.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("line", sa.String(16), primary_key=True),
        sa.Column("hour_of_week", sa.SmallInteger(), primary_key=True),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("wait_min_sum", sa.Float(), nullable=False),
        sa.Column("waiting_sum", sa.Float(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("hour_of_week BETWEEN 0 AND 167",
                           name="ck_queue_typical_hour_of_week"),
        sa.CheckConstraint(_in("line", LINES), name="ck_queue_typical_line"),
    )

    op.execute("CREATE SEQUENCE queue_ticket_change_seq")
    op.create_table(
        "queue_tickets",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("public_id", postgresql.UUID(as_uuid=True), nullable=False, unique=True,
                  server_default=sa.text("gen_random_uuid()")),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("place_id", sa.BigInteger(), sa.ForeignKey("places.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("line", sa.String(16), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ahead", sa.Integer()),
        sa.Column("change_seq", sa.BigInteger(), nullable=False,
                  server_default=sa.text("nextval('queue_ticket_change_seq')")),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("check_in_by", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(_in("status", TICKET_STATUSES), name="ck_queue_tickets_status"),
        sa.CheckConstraint(_in("line", LINES), name="ck_queue_tickets_line"),
        sa.UniqueConstraint("place_id", "line", "service_date", "number",
                            name="uq_queue_tickets_number"),
    )
    op.create_index("uq_queue_tickets_one_active", "queue_tickets", ["user_id"], unique=True,
                    postgresql_where=sa.text("status IN ('waiting', 'checked_in', 'called')"))
    op.create_index("ix_queue_tickets_user_created", "queue_tickets", ["user_id", "created_at"])
    op.create_index("ix_queue_tickets_place_change", "queue_tickets", ["place_id", "change_seq"])


def downgrade() -> None:
    op.drop_index("ix_queue_tickets_place_change", table_name="queue_tickets")
    op.drop_index("ix_queue_tickets_user_created", table_name="queue_tickets")
    op.drop_index("uq_queue_tickets_one_active", table_name="queue_tickets")
    op.drop_table("queue_tickets")
    op.execute("DROP SEQUENCE queue_ticket_change_seq")
    op.drop_table("queue_typical")
    op.drop_index("ix_queue_system_branches_place_id", table_name="queue_system_branches")
    op.drop_table("queue_system_branches")
    op.execute("DELETE FROM users WHERE role = 'queue_system'")
    op.drop_constraint("ck_users_role", "users", type_="check")
    op.create_check_constraint("ck_users_role", "users", _in("role", ROLES_BEFORE))
