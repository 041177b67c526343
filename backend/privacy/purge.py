"""Remove what is past its retention (`flask privacy purge`, run daily just after 00:00 UTC)."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from backend.accounts.service import purge_expired_revocations
from backend.offers import reach

# How long the ledger of an erased account is kept, naming no one: six years, the limitation
# period for a claim about how consent was obtained.
ERASED_LEDGER_RETENTION = timedelta(days=6 * 366)
# How long merchants can read a day's published reach.
PUBLISHED_REACH_RETENTION = timedelta(days=2 * 366)
# Access logs (client network, time, method, path, status): enough to investigate abuse.
LOG_RETENTION = timedelta(days=14)
# Rotated copies of a log (access.log.1, access.log.2.gz, access.log-20261130[.gz]); the live
# file is the rotation's business, never deleted here.
ROTATED_LOG = re.compile(r"\.log(?:\.\d+|-\d{8})(?:\.gz)?$")


@dataclass(frozen=True)
class PurgeReport:
    """What one purge removed or published."""

    revocations: int
    days_published: int
    viewer_tokens: int
    day_keys: int
    erased_ledger_entries: int
    published_reach: int
    log_files: int

    def lines(self) -> list[str]:
        """One line per kind, for the command's output."""
        return [f"{name.replace('_', ' ')}: {value}" for name, value in vars(self).items()]


def purge_logs(folders: Iterable[Path], now: datetime) -> int:
    """Delete rotated log files older than LOG_RETENTION in these folders; returns how many."""
    cutoff = (now - LOG_RETENTION).timestamp()
    removed = 0
    for folder in folders:
        for path in Path(folder).iterdir():
            if path.is_file() and ROTATED_LOG.search(path.name) \
                    and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed


def purge(session: Session, now: datetime, rng: random.Random = reach.SYSTEM_RANDOM,
          log_folders: Iterable[Path] = ()) -> PurgeReport:
    """Publish ended days, destroy ended days' keys and tokens, and drop expired records."""
    today = now.date()
    revocations = purge_expired_revocations(session, now)
    published = reach.publish_ended_days(session, today, rng)
    tokens = session.execute(text("DELETE FROM offer_day_viewers WHERE day < :today"),
                             {"today": today}).rowcount
    keys = session.execute(text("DELETE FROM offer_day_keys WHERE day < :today"),
                           {"today": today}).rowcount
    ledger = session.execute(text(
        "DELETE FROM consent_events WHERE user_id IS NULL AND recorded_at < :cutoff"),
        {"cutoff": now - ERASED_LEDGER_RETENTION}).rowcount
    old_reach = session.execute(text("DELETE FROM offer_daily_reach WHERE day < :cutoff"),
                                {"cutoff": today - PUBLISHED_REACH_RETENTION}).rowcount
    session.commit()
    return PurgeReport(revocations, published, tokens, keys, ledger, old_reach,
                       purge_logs(log_folders, now))
