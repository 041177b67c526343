"""The notices a cardholder agrees to, by version: the current one and every earlier one."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import NotFound
from backend.privacy.models import PrivacyNotice

PROMOTIONS = "promotions"
TOPICS = (PROMOTIONS,)
# Language tags of the texts, as the API names them (BCP 47).
LANGUAGES = ("en", "zh-Hans")
NOTICE_URL = "/api/v1/privacy/notices/promotions"
# What a version looks like ("2026-11"); the table's check constraint says the same. Anything
# else is no version at all and never reaches a query (a NUL byte would make the driver fail).
VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,31}")


def current_notice(session: Session, topic: str, today: date | None = None) -> PrivacyNotice:
    """The newest version of a topic's notice published on or before `today` (UTC by default).

    :raises NotFound: when the topic has no published notice.
    """
    today = today or datetime.now(UTC).date()
    query = select(PrivacyNotice).where(PrivacyNotice.topic == topic,
                                        PrivacyNotice.published_on <= today)
    notice = session.scalars(query.order_by(PrivacyNotice.published_on.desc(),
                                            PrivacyNotice.id.desc()).limit(1)).first()
    if notice is None:
        raise NotFound(f"No {topic} notice is published.")
    return notice


def current_version(session: Session, topic: str = PROMOTIONS,
                    today: date | None = None) -> str:
    """The version string of the current notice of a topic."""
    return current_notice(session, topic, today).version


def notice_by_version(session: Session, topic: str, version: str) -> PrivacyNotice | None:
    """One version of a topic's notice, or None when there is no such version."""
    if not VERSION.fullmatch(version):
        return None
    return session.scalars(select(PrivacyNotice).where(
        PrivacyNotice.topic == topic, PrivacyNotice.version == version)).first()


def get_notice(session: Session, topic: str, version: str, today: date | None = None
               ) -> dict[str, Any]:
    """One version of a notice as the API shows it.

    :raises NotFound: when the topic has no notice of that version.
    """
    notice = notice_by_version(session, topic, version)
    if notice is None:
        raise NotFound(f"There is no {topic} notice of this version.")
    return notice_json(notice, current_version(session, topic, today))


def notice_json(notice: PrivacyNotice, current: str) -> dict[str, Any]:
    """A notice with its texts per language and whether it is the current one."""
    return {
        "topic": notice.topic,
        "version": notice.version,
        "published_on": notice.published_on.isoformat(),
        "current": notice.version == current,
        "current_version": current,
        "languages": list(LANGUAGES),
        "texts": {
            "en": {"title": notice.title_en, "body": notice.body_en},
            "zh-Hans": {"title": notice.title_zh, "body": notice.body_zh},
        },
    }
