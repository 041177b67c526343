"""Users, passwords and login sessions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import vocab
from backend.accounts.models import RevokedSession, User
from backend.errors import BadRequest, Conflict, Unauthorized

_hasher = PasswordHasher()
# Verifying against this when the e-mail is unknown keeps the response time the same, so the
# login endpoint does not reveal which addresses have accounts.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
MIN_PASSWORD_LENGTH = 10


def create_user(session: Session, email: str, password: str, role: str,
                display_name: str | None = None, card_tier: str | None = None,
                *, commit: bool = True) -> User:
    """Create a user with an argon2id password hash (`commit=False`: the caller commits).

    :raises BadRequest: for an unknown role or tier, a short password or a tier on a non-cardholder.
    :raises Conflict: when the e-mail address is taken.
    """
    errors = []
    if role not in vocab.ROLES:
        errors.append({"field": "role", "message": f"Must be one of {', '.join(vocab.ROLES)}."})
    if role == "cardholder" and card_tier is None:
        card_tier = "classic"
    if card_tier is not None and card_tier not in vocab.CARD_TIERS:
        errors.append({"field": "card_tier",
                       "message": f"Must be one of {', '.join(vocab.CARD_TIERS)}."})
    if card_tier is not None and role != "cardholder":
        errors.append({"field": "card_tier", "message": "Only cardholders have a card tier."})
    if len(password) < MIN_PASSWORD_LENGTH:
        errors.append({"field": "password",
                       "message": f"Must be at least {MIN_PASSWORD_LENGTH} characters."})
    if "@" not in email:
        errors.append({"field": "email", "message": "Not an e-mail address."})
    if errors:
        raise BadRequest("The user cannot be created.", errors)
    user = User(email=email.strip(), password_hash=_hasher.hash(password), role=role,
                display_name=display_name, card_tier=card_tier)
    try:
        # A savepoint, so a taken address leaves the caller's transaction usable.
        with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise Conflict("A user with this e-mail address exists.") from None
    if commit:
        session.commit()
    return user


def find_user_by_email(session: Session, email: str) -> User | None:
    """The user with this e-mail address (case-insensitive), or None."""
    return session.scalars(
        select(User).where(func.lower(User.email) == email.strip().lower())
    ).first()


def authenticate(session: Session, email: str, password: str) -> User:
    """The active user with these credentials.

    :raises Unauthorized: for an unknown address, a wrong password or a disabled account.
    """
    user = find_user_by_email(session, email)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None or not user.is_active:
        raise Unauthorized("Wrong e-mail address or password.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.commit()
    return user


def verify_password(user: User, password: str) -> bool:
    """Whether the password is the user's (for confirming a sensitive action)."""
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def get_user(session: Session, user_id: int) -> User | None:
    """The active user with this id, or None."""
    user = session.get(User, user_id)
    return user if user is not None and user.is_active else None


def revoke_session(session: Session, session_id: uuid.UUID, user_id: int,
                   expires_at: datetime) -> None:
    """End a login session: every token carrying its id is refused from now on."""
    if session.get(RevokedSession, session_id) is None:
        session.add(RevokedSession(session_id=session_id, user_id=user_id,
                                   expires_at=expires_at))
        session.commit()


def is_session_revoked(session: Session, session_id: uuid.UUID) -> bool:
    """Whether a login session was ended by logout."""
    return session.get(RevokedSession, session_id) is not None


def purge_expired_revocations(session: Session, now: datetime | None = None) -> int:
    """Forget revocations of sessions whose tokens have all expired; returns how many."""
    now = now or datetime.now(UTC)
    rows = session.scalars(select(RevokedSession).where(RevokedSession.expires_at < now)).all()
    for row in rows:
        session.delete(row)
    session.commit()
    return len(rows)
