"""A cardholder's consent to promotions: the current choice, its ledger, and the data export.

Promotions are off until the cardholder turns them on. Every change appends a ledger entry
(what, when, policy version, channel); the current state is read on every offers request, so a
withdrawal takes effect on the very next one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import vocab
from backend.accounts.models import Consent, ConsentEvent, RevokedSession, User
from backend.errors import PROBLEM_BASE, AppError, BadRequest, Conflict, field_error
from backend.privacy import notices


class NoticeNotNamed(AppError):
    """A grant or change that does not name the notice version the cardholder was shown."""

    status, type, title = 422, PROBLEM_BASE + "policy-version", "Which notice was shown?"

DEFAULT_MAX_OFFERS = 5
MAX_OFFERS_LIMIT = 20
CHANNELS = ("app", "web", "api")

# What this service never keeps about a cardholder; the data export says so.
NOT_KEPT = (
    "the coordinates of your requests or any other record of where you were",
    "which offers you were shown, opened or used",
    "your card spending",
)


@dataclass(frozen=True)
class ConsentState:
    """The current choice (defaults when the cardholder never chose)."""

    promotions_enabled: bool
    categories: tuple[str, ...]
    max_offers: int
    policy_version: str | None
    updated_at: datetime | None

    def to_json(self, current_policy_version: str) -> dict[str, Any]:
        """The state as the API shows it, next to the version of the notice in force."""
        return {
            "promotions_enabled": self.promotions_enabled,
            "categories": list(self.categories),
            "max_offers": self.max_offers,
            "policy_version": self.policy_version,
            "current_policy_version": current_policy_version,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "available_categories": list(vocab.OFFER_CATEGORIES),
        }


_OFF = ConsentState(False, (), DEFAULT_MAX_OFFERS, None, None)


def get_consent(session: Session, user_id: int) -> ConsentState:
    """The cardholder's current consent; off when they never chose."""
    row = session.get(Consent, user_id)
    if row is None:
        return _OFF
    return ConsentState(row.promotions_enabled, tuple(row.categories), row.max_offers,
                        row.policy_version, row.updated_at)


def set_consent(session: Session, user_id: int, *, promotions_enabled: bool,
                categories: list[str] | tuple[str, ...] = (),
                max_offers: int = DEFAULT_MAX_OFFERS, channel: str = "api",
                policy_version: str | None = None, now: datetime) -> ConsentState:
    """Replace the cardholder's consent and append the change to the ledger.

    Setting the same state again changes nothing and records nothing.

    The ledger records the notice version the client named. Turning promotions on, or
    changing categories while on, must name the current version; a withdrawal never needs one
    and is never refused (a known version it names is recorded, anything else as none).

    :raises BadRequest: for unknown categories, no category while enabling, or a bad maximum.
    :raises NoticeNotNamed: (422) when saying yes without naming a version, or naming none known.
    :raises Conflict: when the version named is an older notice than the current one.
    """
    categories = tuple(dict.fromkeys(categories))  # keep the order given, drop repeats
    errors = []
    unknown = [c for c in categories if c not in vocab.OFFER_CATEGORIES]
    if unknown:
        errors.append({"field": "categories",
                       "message": f"Unknown categories: {', '.join(unknown)}."})
    if promotions_enabled and not categories:
        errors.append({"field": "categories",
                       "message": "Choose at least one category to turn promotions on."})
    if not 1 <= max_offers <= MAX_OFFERS_LIMIT:
        errors.append({"field": "max_offers",
                       "message": f"Must be between 1 and {MAX_OFFERS_LIMIT}."})
    if channel not in CHANNELS:
        errors.append({"field": "channel", "message": f"Must be one of {', '.join(CHANNELS)}."})
    if errors:
        raise BadRequest("The consent cannot be recorded.", errors)
    recorded_version = _named_version(session, promotions_enabled, policy_version, now.date())

    # Lock the user's row (it always exists, unlike a first consent row) so that two
    # simultaneous changes are compared and recorded one after the other.
    session.execute(select(User.id).where(User.id == user_id).with_for_update(key_share=True))
    row = session.get(Consent, user_id, populate_existing=True)
    before = get_consent(session, user_id)
    unchanged = (before.promotions_enabled == promotions_enabled
                 and before.categories == categories and before.max_offers == max_offers
                 and (not promotions_enabled or before.policy_version == recorded_version))
    if unchanged:
        session.commit()  # ends the transaction and its lock
        return before
    if row is None:
        row = Consent(user_id=user_id)
        session.add(row)
    if promotions_enabled and not before.promotions_enabled:
        action = "granted"
    elif before.promotions_enabled and not promotions_enabled:
        action = "withdrawn"
    else:
        action = "changed"
    row.promotions_enabled = promotions_enabled
    row.categories = list(categories)
    row.max_offers = max_offers
    row.policy_version = recorded_version
    row.updated_at = now
    session.add(ConsentEvent(user_id=user_id, recorded_at=now, action=action,
                             promotions_enabled=promotions_enabled, categories=list(categories),
                             max_offers=max_offers, policy_version=recorded_version,
                             channel=channel))
    session.commit()
    return get_consent(session, user_id)


def _named_version(session: Session, promotions_enabled: bool, policy_version: str | None,
                   today: date) -> str | None:
    """The notice version to record for this choice.

    :raises NoticeNotNamed: when saying yes without a version, or with one never published.
    :raises Conflict: when saying yes to an older notice than the one in force.
    """
    known = (notices.notice_by_version(session, notices.PROMOTIONS, policy_version)
             if policy_version else None)
    if not promotions_enabled:
        return known.version if known else None
    current = notices.current_version(session, notices.PROMOTIONS, today)
    if policy_version is None:
        raise NoticeNotNamed(
            "Turning promotions on or changing categories needs the version of the notice the "
            f"cardholder was shown: GET {notices.NOTICE_URL}, show it, and send its version.",
            [field_error("policy_version", "Required when promotions_enabled is true.")],
            current_policy_version=current, notice_url=notices.NOTICE_URL)
    if known is None:
        raise NoticeNotNamed(
            f"There is no promotions notice of this version; the current one is {current}.",
            [field_error("policy_version", "No promotions notice has this version.")],
            current_policy_version=current, notice_url=notices.NOTICE_URL)
    if known.version != current:
        raise Conflict(f"The promotions notice is now version {current}; show it to the "
                       "cardholder and send their answer with that version.",
                       current_policy_version=current, notice_url=notices.NOTICE_URL)
    return current


def consent_history(session: Session, user_id: int) -> list[dict[str, Any]]:
    """The cardholder's consent ledger, oldest first."""
    events = session.scalars(select(ConsentEvent).where(ConsentEvent.user_id == user_id)
                             .order_by(ConsentEvent.id)).all()
    return [{
        "action": e.action,
        "recorded_at": e.recorded_at.isoformat(),
        "promotions_enabled": e.promotions_enabled,
        "categories": list(e.categories),
        "max_offers": e.max_offers,
        "policy_version": e.policy_version,
        "channel": e.channel,
    } for e in events]


def forget_offer_activity(session: Session, user_id: int) -> int:
    """Forget the cardholder's per-user offer state; returns how many records were removed.

    The service keeps none: a nearby answer leaves only per-offer daily counts that name no
    one. The endpoint exists so the promise can be exercised and tested; were per-user state
    ever added, deleting it belongs here.
    """
    return 0


def export_user_data(session: Session, user: User) -> dict[str, Any]:
    """Everything this service holds about a user, for the user."""
    sessions = session.scalars(select(RevokedSession).where(RevokedSession.user_id == user.id)
                               .order_by(RevokedSession.revoked_at)).all()
    return {
        "account": {
            "id": str(user.public_id),
            "email": user.email,
            "role": user.role,
            "display_name": user.display_name,
            "card_tier": user.card_tier,
            "created_at": user.created_at.isoformat() if user.created_at else None,
        },
        "consent": get_consent(session, user.id).to_json(
            notices.current_version(session, notices.PROMOTIONS)),
        "consent_history": consent_history(session, user.id),
        "ended_login_sessions": [{"revoked_at": s.revoked_at.isoformat(),
                                  "forgotten_after": s.expires_at.isoformat()}
                                 for s in sessions],
        "offer_activity": [],
        "not_kept": list(NOT_KEPT),
    }
