"""Places, users and the token blocklist.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "places",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("public_id", postgresql.UUID(as_uuid=True), nullable=False,
                  server_default=sa.text("gen_random_uuid()"), unique=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("brand", sa.Text()),
        sa.Column("street", sa.Text()),
        sa.Column("locality", sa.Text()),
        sa.Column("region", sa.Text()),
        sa.Column("postcode", sa.String(16)),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("location", geoalchemy2.Geography(geometry_type="POINT", srid=4326,
                                                    spatial_index=False), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("opening_hours", postgresql.JSONB()),
        sa.Column("services", postgresql.ARRAY(sa.Text()), nullable=False, server_default="{}"),
        sa.Column("accessibility", postgresql.ARRAY(sa.Text()), nullable=False,
                  server_default="{}"),
        sa.Column("repayment_methods", postgresql.ARRAY(sa.Text()), nullable=False,
                  server_default="{}"),
        sa.Column("repayment_fee", sa.Numeric(10, 2)),
        sa.Column("repayment_fee_currency", sa.String(3)),
        sa.Column("repayment_posting", sa.String(32)),
        sa.Column("repayment_cutoff", sa.Time()),
        sa.Column("phone", sa.String(32)),
        sa.Column("status", sa.String(20), nullable=False, server_default="active"),
        sa.Column("last_verified_at", sa.DateTime(timezone=True)),
        sa.Column("upload_batch_id", sa.BigInteger()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.UniqueConstraint("source", "external_id", name="uq_places_source_external_id"),
        sa.CheckConstraint("kind IN ('branch', 'atm', 'partner_outlet')", name="ck_places_kind"),
        sa.CheckConstraint("status IN ('active', 'temporarily_closed', 'decommissioned')",
                           name="ck_places_status"),
        sa.CheckConstraint("country ~ '^[A-Z]{2}$'", name="ck_places_country"),
    )
    op.create_index("ix_places_location", "places", ["location"], postgresql_using="gist")
    # Map boxes are latitude/longitude rectangles: they filter on the geometry cast.
    op.create_index("ix_places_location_geometry", "places", [sa.text("(location::geometry)")],
                    postgresql_using="gist")
    op.create_index("ix_places_services", "places", ["services"], postgresql_using="gin")

    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("public_id", postgresql.UUID(as_uuid=True), nullable=False,
                  server_default=sa.text("gen_random_uuid()"), unique=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("display_name", sa.String(120)),
        sa.Column("card_tier", sa.String(20)),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.CheckConstraint(
            "role IN ('cardholder', 'maintainer', 'merchant', 'reviewer', 'admin')",
            name="ck_users_role"),
        sa.CheckConstraint("card_tier IS NULL OR card_tier IN ('classic', 'gold', 'platinum')",
                           name="ck_users_card_tier"),
    )
    op.create_index("uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True)

    op.create_table(
        "token_blocklist",
        sa.Column("session_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("token_blocklist")
    op.drop_index("uq_users_email_lower", table_name="users")
    op.drop_table("users")
    op.drop_index("ix_places_services", table_name="places")
    op.drop_index("ix_places_location_geometry", table_name="places")
    op.drop_index("ix_places_location", table_name="places")
    op.drop_table("places")
