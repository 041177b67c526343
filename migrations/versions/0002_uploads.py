"""Upload batches, their staged rows and issues, place history, per-source versions, audit.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def _place_value_columns() -> list[sa.Column]:
    """The columns an upload can set on a place (the same types as `places`)."""
    return [
        sa.Column("kind", sa.String(20)),
        sa.Column("name", sa.Text()),
        sa.Column("brand", sa.Text()),
        sa.Column("street", sa.Text()),
        sa.Column("locality", sa.Text()),
        sa.Column("region", sa.Text()),
        sa.Column("postcode", sa.String(16)),
        sa.Column("country", sa.String(2)),
        sa.Column("location", geoalchemy2.Geography(geometry_type="POINT", srid=4326,
                                                    spatial_index=False)),
        sa.Column("timezone", sa.String(64)),
        sa.Column("opening_hours", postgresql.JSONB()),
        sa.Column("services", postgresql.ARRAY(sa.Text())),
        sa.Column("accessibility", postgresql.ARRAY(sa.Text())),
        sa.Column("repayment_methods", postgresql.ARRAY(sa.Text())),
        sa.Column("repayment_fee", sa.Numeric(10, 2)),
        sa.Column("repayment_fee_currency", sa.String(3)),
        sa.Column("repayment_posting", sa.String(32)),
        sa.Column("repayment_cutoff", sa.Time()),
        sa.Column("phone", sa.String(32)),
        sa.Column("status", sa.String(20)),
        sa.Column("last_verified_at", TIMESTAMP),
    ]


def upgrade() -> None:
    op.add_column("places", sa.Column("version", sa.Integer(), nullable=False,
                                      server_default="1"))
    op.create_index("ix_places_source", "places", ["source"])

    op.create_table(
        "place_sources",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"),
    )

    op.create_table(
        "upload_batches",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("public_id", postgresql.UUID(as_uuid=True), nullable=False, unique=True,
                  server_default=sa.text("gen_random_uuid()")),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("base_version", sa.BigInteger(), nullable=False),
        sa.Column("summary", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("created_by", sa.BigInteger(), sa.ForeignKey("users.id")),
        sa.Column("created_via", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.Column("applied_by", sa.BigInteger(), sa.ForeignKey("users.id")),
        sa.Column("applied_at", TIMESTAMP),
        sa.Column("rolled_back_by", sa.BigInteger(), sa.ForeignKey("users.id")),
        sa.Column("rolled_back_at", TIMESTAMP),
        sa.CheckConstraint("mode IN ('merge', 'sync')", name="ck_upload_batches_mode"),
        sa.CheckConstraint(
            "status IN ('pending', 'applied', 'rolled_back', 'refused')",
            name="ck_upload_batches_status"),
    )
    op.create_foreign_key("fk_places_upload_batch", "places", "upload_batches",
                          ["upload_batch_id"], ["id"], ondelete="SET NULL")

    op.create_table(
        "upload_rows",
        sa.Column("batch_id", sa.BigInteger(),
                  sa.ForeignKey("upload_batches.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.BigInteger(), primary_key=True),
        sa.Column("locator", sa.Text()),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("action", sa.String(20)),
        sa.Column("place_id", sa.BigInteger()),
        sa.Column("place_version", sa.Integer()),
        sa.Column("changed_fields", postgresql.ARRAY(sa.Text())),
        *_place_value_columns(),
    )

    op.create_table(
        "upload_issues",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("batch_id", sa.BigInteger(),
                  sa.ForeignKey("upload_batches.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.BigInteger()),
        sa.Column("locator", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text()),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("raw", postgresql.JSONB()),
        sa.CheckConstraint("severity IN ('error', 'warning')", name="ck_upload_issues_severity"),
    )
    op.create_index("ix_upload_issues_batch", "upload_issues", ["batch_id", "id"])

    op.create_table(
        "place_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("place_id", sa.BigInteger(), nullable=False),
        sa.Column("public_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), sa.ForeignKey("upload_batches.id")),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("changed_fields", postgresql.ARRAY(sa.Text())),
        sa.Column("before", postgresql.JSONB()),
        sa.Column("after", postgresql.JSONB()),
        sa.Column("after_version", sa.Integer()),
        sa.Column("changed_by", sa.BigInteger(), sa.ForeignKey("users.id")),
        sa.Column("changed_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_place_history_place", "place_history", ["public_id", "id"])
    op.create_index("ix_place_history_batch", "place_history", ["batch_id"])

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.Column("actor_id", sa.BigInteger(), sa.ForeignKey("users.id")),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(32), nullable=False),
        sa.Column("object_id", sa.Text(), nullable=False),
        sa.Column("details", postgresql.JSONB(), nullable=False, server_default="{}"),
    )


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("place_history")
    op.drop_table("upload_issues")
    op.drop_table("upload_rows")
    op.drop_constraint("fk_places_upload_batch", "places", type_="foreignkey")
    op.drop_table("upload_batches")
    op.drop_table("place_sources")
    op.drop_index("ix_places_source", table_name="places")
    op.drop_column("places", "version")
