"""`flask queue simulate`: the simulator reporting for real branches, as a queue system would."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from backend.queues import service
from backend.queues.simulator import SampleFeed
from backend.queues.store import QueueStore


def simulator_account(session: Session, email: str, source: str | None) -> int:
    """The simulator's queue_system account, bound to every active branch (of `source`)."""
    from backend.accounts.service import create_user, find_user_by_email

    user = find_user_by_email(session, email)
    if user is None:
        user = create_user(session, email, secrets.token_urlsafe(24), "queue_system",
                           "Queue simulator", None)
    session.execute(text("""
        INSERT INTO queue_system_branches (user_id, place_id)
        SELECT :u, id FROM places
        WHERE kind = 'branch' AND status = 'active' AND (CAST(:src AS text) IS NULL
                                                         OR source = :src)
        ON CONFLICT DO NOTHING"""), {"u": user.id, "src": source})
    session.commit()
    return user.id


def bound_branches(session: Session, user_id: int) -> list[dict]:
    rows = session.execute(text("""
        SELECT p.public_id, p.external_id, p.services, p.accessibility
        FROM queue_system_branches b JOIN places p ON p.id = b.place_id
        WHERE b.user_id = :u AND p.status = 'active' ORDER BY p.id"""), {"u": user_id}).all()
    return [{"id": str(r.public_id), "key": r.external_id, "services": list(r.services or []),
             "accessibility": list(r.accessibility or [])} for r in rows]


def run_feed(session: Session, store: QueueStore, user_id: int, feed: SampleFeed,
             interval_s: float, duration_s: float, ttl_s: int,
             echo: Callable[[str], None] = print, ready_file: Path | None = None) -> int:
    """Report every `interval_s` real seconds for `duration_s` (0: until stopped); ticks sent.

    `ready_file` is created once the first reports are stored (`make run` waits for it).
    """
    feed.build(bound_branches(session, user_id))
    began = time.monotonic()
    ticks = 0
    while True:
        elapsed = time.monotonic() - began
        changes = service.ticket_changes(session, user_id, feed.ticket_after, 1000,
                                         datetime.now(UTC))
        feed.ticket_after = changes["next_after"]
        reports = feed.tick(elapsed, changes["tickets"])
        now = datetime.now(UTC)
        for report in reports:
            report["as_of"] = now
        lines = sum(len(r["lines"]) for r in reports)
        for start in range(0, len(reports), 200):
            service.ingest_reports(session, store, user_id, reports[start:start + 200], now,
                                   ttl_s)
        ticks += 1
        if ticks == 1 and ready_file is not None:
            ready_file.touch(mode=0o600)
        if ticks == 1 or ticks % 20 == 0:
            t = feed.sim_time(elapsed)
            echo(f"queue simulator: {lines} lines of {len(reports)} branches at simulated "
                 f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d}")
        if duration_s and time.monotonic() - began + interval_s > duration_s:
            return ticks
        time.sleep(max(0.0, began + ticks * interval_s - time.monotonic()))
