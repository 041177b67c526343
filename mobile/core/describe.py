"""What a place's row and detail say: status, repayment facts, direction, in the user's language."""

from __future__ import annotations

from datetime import datetime

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
    if repayment.cutoff_today is not None:
        key = "repay.cutoff_passed" if repayment.cutoff_passed else "repay.cutoff"
        cutoff = t.t(key, time=t.moment(repayment.cutoff_today, now))
    lines.append(" · ".join(part for part in (fee, cutoff) if part))
    if repayment.posting:
        lines.append(t.t("posting." + repayment.posting))
    return lines


def direction(t: Translator, place: Place) -> str:
    """'350 m NE' (or '东北 350 米')."""
    return t.t("detail.away", distance=t.distance(place.distance_m),
               compass=t.compass(place.bearing_deg))
