"""What a place's row and detail say: status, repayment facts, direction, in the user's language."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

from mobile.core.i18n import Translator
from mobile.core.models import Place, Repayment


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
