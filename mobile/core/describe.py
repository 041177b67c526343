"""What a place's row and detail say: status, repayment facts, direction, in the user's language."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

from mobile.core.i18n import Translator
from mobile.core.models import BranchQueue, Place, Repayment, SoonestServed, Ticket

QUEUE_LINES = ("counter", "cash", "advisor", "priority")


def place_status(t: Translator, place: Place, now: datetime) -> tuple[str, str]:
    """The open/closed line and its tone: 'open', 'soon', 'closed' or 'unknown'."""
    if place.status == "temporarily_closed":
        return t.t("status.temporarily_closed"), "closed"
    if place.status == "decommissioned":
        return t.t("status.decommissioned"), "closed"
    if place.open_now is None:
        return t.t("status.unknown"), "unknown"
    at = place.next_change_at
    if place.open_now:
        if at is None:
            return t.t("status.open_24"), "open"
        if place.closes_soon:
            return t.t("status.closes_soon", time=t.moment(at, now)), "soon"
        return t.t("status.closes_at", time=t.moment(at, now)), "open"
    if at is None:
        return t.t("status.closed"), "closed"
    return t.t("status.opens_at", time=t.moment(at, now)), "closed"


def repayment_lines(t: Translator, repayment: Repayment | None, now: datetime) -> list[str]:
    """Method, fee and cut-off of a repayment point (empty when no repayments are taken)."""
    if repayment is None:
        return []
    methods = t.join([t.t("method." + m) for m in repayment.methods], "list.or")
    lines = [t.t("repay.methods", methods=methods)]
    if repayment.fee_free or repayment.fee is None:
        fee = t.t("repay.fee_free")
    else:
        fee = t.t("repay.fee", amount=repayment.fee.amount, currency=repayment.fee.currency)
    cutoff = ""
    passed = repayment.cutoff_today is not None and bool(repayment.cutoff_passed)
    if repayment.cutoff_today is not None:
        key = "repay.cutoff_passed" if passed else "repay.cutoff"
        cutoff = t.t(key, time=t.moment(repayment.cutoff_today, now))
    lines.append(" · ".join(part for part in (fee, cutoff) if part))
    if passed and repayment.cutoff_today is not None:
        # Past the cut-off a payment counts from the next business day: say which day it is
        # credited, instead of a posting line ("instantly") that the cut-off contradicts.
        day = credit_day(repayment.cutoff_today.date(), repayment.posting)
        when = f"{t.weekday(day.weekday(), short=True)} {t.date(day)}"
        key = "posting.after_cutoff_by" if repayment.posting == "two_business_days" \
            else "posting.after_cutoff"
        lines.append(t.t(key, day=when))
    elif repayment.posting:
        lines.append(t.t("posting." + repayment.posting))
    return lines


def next_business_day(day: date) -> date:
    """The next Monday-to-Friday after `day` (public holidays are not known to the app)."""
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def credit_day(cutoff_day: date, posting: str | None) -> date:
    """When a payment made after the cut-off on `cutoff_day` is credited (at the latest)."""
    day = next_business_day(cutoff_day)  # the day the payment counts from
    for _ in range({"next_business_day": 1, "two_business_days": 2}.get(posting or "", 0)):
        day = next_business_day(day)
    return day


def direction(t: Translator, place: Place) -> str:
    """'350 m NE' (or '东北 350 米')."""
    return t.t("detail.away", distance=t.distance(place.distance_m),
               compass=t.compass(place.bearing_deg))


# Walking: about 80 m a minute (4.8 km/h), over a path a quarter longer than the straight line
# the distance is measured along (streets are not straight).
WALK_M_PER_MIN = 80.0
DETOUR = 1.25


def walking_minutes(distance_m: float | None) -> int:
    """Minutes on foot for a straight-line distance, at least 1."""
    return max(1, math.ceil((distance_m or 0.0) * DETOUR / WALK_M_PER_MIN))


def line_name(t: Translator, line: str) -> str:
    """A service line's name: counter, cash, advisor or the priority counter."""
    return t.t(f"queue.line_{line}") if line in QUEUE_LINES else line


def wait_words(t: Translator, minutes: int | None, source: str) -> str:
    """A wait as said honestly: live, typical for this hour (labelled so), or unknown."""
    if source == "unknown" or minutes is None:
        return t.t("queue.wait_unknown")
    if source == "typical":
        return t.t("queue.wait_typical", minutes=minutes)
    return t.t("queue.wait_none") if minutes == 0 else t.t("queue.wait_live", minutes=minutes)


def queue_lines(t: Translator, queue: BranchQueue | None) -> list[str]:
    """A branch row's wait lines: the chosen line's wait, then the priority counter's where
    the branch has one (nothing for a place without a queue)."""
    if queue is None:
        return []
    lines = [t.t("queue.row", line=line_name(t, queue.line),
                 wait=wait_words(t, queue.estimated_wait_min, queue.source))]
    priority = queue.of("priority")
    if priority is not None and queue.line != "priority":
        lines.append(t.t("queue.row", line=line_name(t, "priority"),
                         wait=wait_words(t, priority.estimated_wait_min, queue.source)))
    return lines


def soonest_words(t: Translator, soonest: SoonestServed | None) -> str:
    """Why a branch ranks where it does: the server's words in English, the figures in other
    languages."""
    if soonest is None:
        return ""
    if t.language == "en":
        return soonest.why
    if soonest.total_min is None:
        return t.t("queue.soonest_walk", walk=soonest.walk_min)
    return t.t("queue.soonest_figures", walk=soonest.walk_min, total=soonest.total_min)


def ticket_wait(t: Translator, ticket: Ticket) -> str:
    """A ticket's place in its line and its estimated wait."""
    if ticket.status == "called":
        return t.t("ticket.called")
    if not ticket.active:
        return ""
    position = (t.t("ticket.position", n=ticket.position) if ticket.position
                else t.t("ticket.position_unknown"))
    wait = wait_words(t, ticket.estimated_wait_min, ticket.estimate_source or "unknown")
    return f"{position} · {wait}"
