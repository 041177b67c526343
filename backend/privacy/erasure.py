"""Erasure on request: a cardholder's account and personal data go in one transaction.

What goes: the user row (e-mail, password hash, name, card tier, public id), the current
consent, the ended-login records, and today's viewer tokens (while a day key exists they could
still be recomputed from the user id). Every token of the account stops working because the
account no longer exists (each request looks the user up).

What stays, naming no one: the consent ledger's entries, with the user id replaced by NULL and a
fresh random `erased_subject` that only groups them. The bank may have to show that consent to
promotions existed at a time and to which notice version (for a complaint or a regulator), and
that it was withdrawn; it never needs to know by whom once the account is gone.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from backend.accounts.models import ConsentEvent, User
from backend.accounts.service import verify_password
from backend.errors import PROBLEM_BASE, Unauthorized
from backend.offers import reach


class ConfirmationRequired(Unauthorized):
    """Erasure needs the password again, or a token from a login a few minutes ago."""

    type = PROBLEM_BASE + "confirmation-required"
    title = "Confirm it is you"


def erase_cardholder(session: Session, user: User, *, password: str | None,
                     fresh_token: bool) -> uuid.UUID:
    """Delete the cardholder's personal data; returns the random id their ledger now carries.

    :raises ConfirmationRequired: (401) without a fresh token, when the password is missing
        or wrong.
    """
    if not fresh_token and (password is None or not verify_password(user, password)):
        raise ConfirmationRequired(
            "Deleting the account needs your password again (field `password`) or a token "
            "from a login in the last few minutes.",
            [{"field": "password",
              "message": "Wrong password." if password is not None else "Required."}])
    user_id = user.id
    # Lock the user row: a consent change in flight finishes before, or finds no user after.
    session.execute(select(User.id).where(User.id == user_id).with_for_update())
    subject = uuid.uuid4()
    session.execute(update(ConsentEvent).where(ConsentEvent.user_id == user_id)
                    .values(user_id=None, erased_subject=subject))
    reach.forget_viewer(session, user_id)
    session.expunge(user)
    # consents and token_blocklist go by ON DELETE CASCADE.
    session.execute(delete(User).where(User.id == user_id))
    session.commit()
    return subject
