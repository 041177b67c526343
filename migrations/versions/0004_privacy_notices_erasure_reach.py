"""Promotions notices as data, a consent ledger that survives erasure without naming anyone,
and distinct cardholders per offer and day counted through day keys and published with noise.

Revision ID: 0004_privacy
Revises: 0003
Create Date: 2026-12-01
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_privacy"
down_revision = "0003"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)

# The notice in force since migration 0003 (its version was a constant in the code until now).
# A published notice never changes: a new text is a new row with a new version.
PROMOTIONS_2026_11 = {
    "topic": "promotions",
    "version": "2026-11",
    "published_on": dt.date(2026, 11, 24),
    "title_en": "Offers from partner merchants",
    "body_en": (
        "If you turn this on, the app can show you offers from the bank's partner merchants "
        "in the categories you choose, but only when you ask for them by tapping Offers.\n\n"
        "To find offers near you, the app sends your current position with that request. "
        "We use it for that one answer only: it is rounded to about 100 metres before use, "
        "and it is never stored, logged or shared with merchants.\n\n"
        "We never send you messages or notifications about offers, and we keep no record of "
        "which offers you saw. Merchants receive only daily numbers of cardholders per offer, "
        "with random noise added so that no single visit can be inferred.\n\n"
        "We record when you turn offers on, change your categories or turn offers off, and "
        "which version of this notice you were shown, as proof of your choice.\n\n"
        "You can turn offers off at any time; it takes effect on your next request. You can "
        "export your data or delete your account from the privacy settings."
    ),
    "title_zh": "合作商户优惠",
    "body_zh": (
        "开启后，应用可以在您选择的类别中向您展示本行合作商户的优惠，但仅在您点击“优惠”"
        "主动查询时才会显示。\n\n"
        "为查找您附近的优惠，应用会在该次查询中发送您当前的位置。我们仅将其用于这一次回复："
        "使用前会取整到约 100 米，且绝不会被保存、记录或提供给商户。\n\n"
        "我们绝不会就优惠向您发送消息或通知，也不会记录您看过哪些优惠。商户只会收到每项优惠"
        "每天的持卡人数量，并加入随机噪声，因此无法推断任何一次到访。\n\n"
        "我们会记录您开启优惠、更改类别或关闭优惠的时间，以及您看到的本声明版本，作为您选择"
        "的证明。\n\n"
        "您可以随时关闭优惠，下一次查询即生效。您可以在隐私设置中导出您的数据或删除您的账户。"
    ),
}


def upgrade() -> None:
    notices = op.create_table(
        "privacy_notices",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("published_on", sa.Date(), nullable=False),
        sa.Column("title_en", sa.Text(), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        sa.Column("title_zh", sa.Text(), nullable=False),
        sa.Column("body_zh", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("topic IN ('promotions')", name="ck_privacy_notices_topic"),
        sa.CheckConstraint("version ~ '^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$'",
                           name="ck_privacy_notices_version"),
        sa.UniqueConstraint("topic", "version", name="uq_privacy_notices_topic_version"),
    )
    op.bulk_insert(notices, [PROMOTIONS_2026_11])
    op.execute("""
        CREATE FUNCTION privacy_notices_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'a published notice never changes: publish a new version';
        END $$
    """)
    op.execute("""
        CREATE TRIGGER privacy_notices_no_update BEFORE UPDATE ON privacy_notices
        FOR EACH ROW EXECUTE FUNCTION privacy_notices_immutable()
    """)

    # The ledger outlives an erased account, naming no one: the user id is replaced by NULL and
    # a random subject id that only groups the erased person's entries together.
    op.add_column("consent_events",
                  sa.Column("erased_subject", postgresql.UUID(as_uuid=True), nullable=True))
    op.alter_column("consent_events", "user_id", nullable=True)
    op.alter_column("consent_events", "policy_version", nullable=True)
    op.drop_constraint("consent_events_user_id_fkey", "consent_events", type_="foreignkey")
    op.create_foreign_key("consent_events_user_id_fkey", "consent_events", "users",
                          ["user_id"], ["id"], ondelete="SET NULL")
    # Still append-only, with one exception: an entry may forget whose it was.
    op.execute("""
        CREATE OR REPLACE FUNCTION consent_events_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.user_id IS NOT NULL AND NEW.user_id IS NULL
               AND (NEW.erased_subject IS NULL OR OLD.erased_subject IS NULL)
               AND (NEW.id, NEW.recorded_at, NEW.action, NEW.promotions_enabled, NEW.categories,
                    NEW.max_offers, NEW.policy_version, NEW.channel)
                   IS NOT DISTINCT FROM
                   (OLD.id, OLD.recorded_at, OLD.action, OLD.promotions_enabled, OLD.categories,
                    OLD.max_offers, OLD.policy_version, OLD.channel) THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'consent_events is append-only';
        END $$
    """)

    # Shows per answer are replaced by distinct cardholders per offer and day.
    op.drop_table("offer_daily_shows")
    op.create_table(
        "offer_day_keys",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("key", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "offer_day_viewers",
        sa.Column("offer_id", sa.BigInteger(), sa.ForeignKey("offers.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("viewer", sa.LargeBinary(), primary_key=True),
    )
    op.create_index("ix_offer_day_viewers_day", "offer_day_viewers", ["day"])
    op.create_table(
        "offer_daily_reach",
        sa.Column("offer_id", sa.BigInteger(), sa.ForeignKey("offers.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("cardholders", sa.BigInteger(), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("published_at", TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("cardholders >= 0", name="ck_offer_daily_reach_cardholders"),
    )


def downgrade() -> None:
    op.drop_table("offer_daily_reach")
    op.drop_index("ix_offer_day_viewers_day", table_name="offer_day_viewers")
    op.drop_table("offer_day_viewers")
    op.drop_table("offer_day_keys")
    op.create_table(
        "offer_daily_shows",
        sa.Column("offer_id", sa.BigInteger(), sa.ForeignKey("offers.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.execute("""
        CREATE OR REPLACE FUNCTION consent_events_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'consent_events is append-only';
        END $$
    """)
    # Entries of erased accounts cannot return to a user: they go, as before 0004.
    op.execute("DELETE FROM consent_events WHERE user_id IS NULL")
    # policy_version stays nullable: a withdrawal that named no notice has no version to invent.
    op.drop_constraint("consent_events_user_id_fkey", "consent_events", type_="foreignkey")
    op.create_foreign_key("consent_events_user_id_fkey", "consent_events", "users",
                          ["user_id"], ["id"], ondelete="CASCADE")
    op.alter_column("consent_events", "user_id", nullable=False)
    op.drop_column("consent_events", "erased_subject")
    op.execute("DROP TRIGGER privacy_notices_no_update ON privacy_notices")
    op.execute("DROP FUNCTION privacy_notices_immutable()")
    op.drop_table("privacy_notices")
