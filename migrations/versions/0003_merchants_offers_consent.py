"""Merchants, stores, offers, the daily show counter, consent and its ledger.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def _public_id() -> sa.Column:
    return sa.Column("public_id", postgresql.UUID(as_uuid=True), nullable=False, unique=True,
                     server_default=sa.text("gen_random_uuid()"))


def _timestamps() -> list[sa.Column]:
    return [sa.Column("created_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
            sa.Column("updated_at", TIMESTAMP, nullable=False, server_default=sa.func.now())]


def upgrade() -> None:
    op.create_table(
        "merchants",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        _public_id(),
        # Incremented on every change: a reviewer approves the version they saw.
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False, unique=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("contact_name", sa.Text()),
        sa.Column("contact_email", sa.String(254), nullable=False),
        sa.Column("contact_phone", sa.String(32)),
        sa.Column("website", sa.Text()),
        sa.Column("max_offers_shown", sa.SmallInteger(), nullable=False, server_default="3"),
        sa.Column("verification_status", sa.String(20), nullable=False,
                  server_default="unverified"),
        sa.Column("verification_reason", sa.Text()),
        sa.Column("verified_at", TIMESTAMP),
        sa.Column("reviewed_by", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("reviewed_at", TIMESTAMP),
        *_timestamps(),
        sa.CheckConstraint("verification_status IN ('unverified', 'verified', 'rejected')",
                           name="ck_merchants_verification_status"),
        sa.CheckConstraint("max_offers_shown BETWEEN 1 AND 10",
                           name="ck_merchants_max_offers_shown"),
    )

    op.create_table(
        "merchant_stores",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        _public_id(),
        sa.Column("merchant_id", sa.BigInteger(),
                  sa.ForeignKey("merchants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("street", sa.Text()),
        sa.Column("locality", sa.Text()),
        sa.Column("postcode", sa.String(16)),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("location", geoalchemy2.Geography(geometry_type="POINT", srid=4326,
                                                    spatial_index=False), nullable=False),
        sa.Column("geocoded", sa.Boolean(), nullable=False, server_default=sa.false()),
        *_timestamps(),
        sa.CheckConstraint("country ~ '^[A-Z]{2}$'", name="ck_merchant_stores_country"),
    )
    op.create_index("ix_merchant_stores_location", "merchant_stores", ["location"],
                    postgresql_using="gist")
    op.create_index("ix_merchant_stores_merchant_id", "merchant_stores", ["merchant_id"])

    op.create_table(
        "offers",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        _public_id(),
        # Incremented on every change: a reviewer approves the version they saw.
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("merchant_id", sa.BigInteger(),
                  sa.ForeignKey("merchants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("benefit_type", sa.String(16), nullable=False),
        sa.Column("benefit_percent", sa.Numeric(5, 2)),
        sa.Column("benefit_amount", sa.Numeric(10, 2)),
        sa.Column("benefit_currency", sa.String(3)),
        sa.Column("benefit_text", sa.String(200)),
        sa.Column("valid_from", TIMESTAMP, nullable=False),
        sa.Column("valid_until", TIMESTAMP, nullable=False),
        sa.Column("eligible_tiers", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("area", geoalchemy2.Geography(geometry_type="POLYGON", srid=4326,
                                                spatial_index=False)),
        sa.Column("status", sa.String(20), nullable=False, server_default="draft"),
        sa.Column("review_reason", sa.Text()),
        sa.Column("submitted_at", TIMESTAMP),
        sa.Column("reviewed_by", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("reviewed_at", TIMESTAMP),
        *_timestamps(),
        sa.CheckConstraint(
            "status IN ('draft', 'pending_review', 'approved', 'rejected', 'withdrawn')",
            name="ck_offers_status"),
        sa.CheckConstraint("benefit_type IN ('percent_off', 'amount_off', 'text')",
                           name="ck_offers_benefit_type"),
        sa.CheckConstraint(
            "(benefit_type = 'percent_off' AND benefit_percent > 0 AND benefit_percent <= 100)"
            " OR (benefit_type = 'amount_off' AND benefit_amount > 0"
            "     AND benefit_currency IS NOT NULL)"
            " OR (benefit_type = 'text' AND benefit_text IS NOT NULL)",
            name="ck_offers_benefit"),
        sa.CheckConstraint("valid_from < valid_until", name="ck_offers_validity"),
        sa.CheckConstraint("cardinality(eligible_tiers) > 0", name="ck_offers_eligible_tiers"),
    )
    op.create_index("ix_offers_area", "offers", ["area"], postgresql_using="gist")
    op.create_index("ix_offers_merchant_id", "offers", ["merchant_id"])
    op.create_index("ix_offers_status", "offers", ["status"])

    op.create_table(
        "offer_stores",
        sa.Column("offer_id", sa.BigInteger(), sa.ForeignKey("offers.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("store_id", sa.BigInteger(),
                  sa.ForeignKey("merchant_stores.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_offer_stores_store_id", "offer_stores", ["store_id"])

    op.create_table(
        "offer_daily_shows",
        sa.Column("offer_id", sa.BigInteger(), sa.ForeignKey("offers.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False, server_default="0"),
    )

    op.create_table(
        "consents",
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("promotions_enabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("categories", postgresql.ARRAY(sa.Text()), nullable=False,
                  server_default="{}"),
        sa.Column("max_offers", sa.SmallInteger(), nullable=False, server_default="5"),
        sa.Column("policy_version", sa.String(32)),
        sa.Column("updated_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("max_offers BETWEEN 1 AND 20", name="ck_consents_max_offers"),
    )

    op.create_table(
        "consent_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("promotions_enabled", sa.Boolean(), nullable=False),
        sa.Column("categories", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("max_offers", sa.SmallInteger(), nullable=False),
        sa.Column("policy_version", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.CheckConstraint("action IN ('granted', 'changed', 'withdrawn')",
                           name="ck_consent_events_action"),
    )
    op.create_index("ix_consent_events_user_id", "consent_events", ["user_id", "id"])
    # The ledger is append-only: an entry is never rewritten (deleting a user still removes
    # theirs through the foreign key).
    op.execute("""
        CREATE FUNCTION consent_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'consent_events is append-only';
        END $$
    """)
    op.execute("""
        CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
        FOR EACH ROW EXECUTE FUNCTION consent_events_append_only()
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER consent_events_no_update ON consent_events")
    op.execute("DROP FUNCTION consent_events_append_only()")
    op.drop_index("ix_consent_events_user_id", table_name="consent_events")
    op.drop_table("consent_events")
    op.drop_table("consents")
    op.drop_table("offer_daily_shows")
    op.drop_index("ix_offer_stores_store_id", table_name="offer_stores")
    op.drop_table("offer_stores")
    op.drop_index("ix_offers_status", table_name="offers")
    op.drop_index("ix_offers_merchant_id", table_name="offers")
    op.drop_index("ix_offers_area", table_name="offers")
    op.drop_table("offers")
    op.drop_index("ix_merchant_stores_merchant_id", table_name="merchant_stores")
    op.drop_index("ix_merchant_stores_location", table_name="merchant_stores")
    op.drop_table("merchant_stores")
    op.drop_table("merchants")
