"""Validation of parsed place records: one clean record, or the reasons it was refused."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from backend import vocab
from backend.hours import HoursSyntaxError, normalise_opening_hours, parse_opening_hours
from backend.uploads.parsers.coords import parse_coordinate

REQUIRED = ("source", "external_id", "kind", "name", "country", "lat", "lon", "timezone")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass
class PlaceRecord:
    """A validated place, ready to be written; column names match the places table."""

    values: dict[str, Any]
    lat: float
    lon: float


@dataclass
class RecordIssue:
    """An error about one field of one record."""

    locator: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.locator}: {self.field}: {self.message}"


@dataclass
class ValidationResult:
    """A record's outcome: the clean record (possibly with warnings), or its errors."""

    record: PlaceRecord | None
    errors: list[RecordIssue] = field(default_factory=list)
    warnings: list[RecordIssue] = field(default_factory=list)


def _coordinate(value: Any, axis: str, fail: Any) -> float | None:
    """A coordinate in any notation a person types, or None (reported) when it is not one."""
    if value in (None, ""):
        return None
    try:
        return parse_coordinate(value, axis)  # type: ignore[arg-type]
    except ValueError as exc:
        fail(axis, str(exc))
        return None


# The widths of the places table's columns; longer text would fail the whole upload.
MAX_LENGTHS = {"source": 64, "external_id": 128, "kind": 20, "postcode": 16, "country": 2,
               "timezone": 64, "repayment_fee_currency": 3, "repayment_posting": 32,
               "phone": 32, "status": 20}
MAX_TEXT = 1000
MAX_FEE = Decimal("100000000")
LIST_FIELDS = frozenset(("services", "accessibility", "repayment_methods"))
NUMBER_FIELDS = frozenset(("lat", "lon", "repayment_fee"))


_SURROGATE = re.compile("[\ud800-\udfff]")


def _unstorable(text: str) -> bool:
    # PostgreSQL takes neither NUL nor a lone surrogate (JSON's "\ud800" escape) in text.
    return "\x00" in text or (not text.isascii() and _SURROGATE.search(text) is not None)


def _plainly_fine(fields: dict[str, Any]) -> bool:
    """Whether no value can have a shape problem (a quick pass: uploads check 10^6 records).

    True only where _shape_problems would find nothing; False sends the record to it.
    """
    for name, value in fields.items():
        if value is None:
            continue
        kind = value.__class__
        if kind is str:
            if name in LIST_FIELDS or len(value) > MAX_LENGTHS.get(name, MAX_TEXT) \
                    or _unstorable(value):
                return False
        elif kind is list:
            if name not in LIST_FIELDS:
                return False
            for item in value:
                if item.__class__ is not str or len(item) > 64 or _unstorable(item):
                    return False
        elif not (name in NUMBER_FIELDS and kind in (int, float)):
            return False
    return True


def _shape_problems(fields: dict[str, Any]) -> list[tuple[str, str]]:
    """Values of the wrong type, too long, or with NUL characters (which PostgreSQL refuses)."""
    if _plainly_fine(fields):
        return []
    problems = []
    for name, value in fields.items():
        if value is None:
            continue
        if name in LIST_FIELDS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems.append((name, "must be a list of codes"))
            elif any(_unstorable(v) or len(v) > 64 for v in value):
                problems.append((name, "has a code that is too long, or has a NUL character "
                                       "or an unpaired surrogate"))
            continue
        if name in NUMBER_FIELDS and isinstance(value, int | float) \
                and not isinstance(value, bool):
            continue
        if not isinstance(value, str):
            problems.append((name, "must be text"))
        elif _unstorable(value):
            problems.append((name, "contains a NUL character or an unpaired surrogate"))
        elif len(value) > MAX_LENGTHS.get(name, MAX_TEXT):
            problems.append((name, f"is longer than {MAX_LENGTHS.get(name, MAX_TEXT)} "
                                   "characters"))
    return problems


@lru_cache(maxsize=4096)
def _hours_json(text: str | None, exceptions: str | None) -> dict | None:
    # Networks repeat a handful of schedules: parse each once per process. Callers must not
    # change the returned document.
    hours = parse_opening_hours(text, exceptions)
    return hours.to_json() if hours else None


def validate_record(locator: str, fields: dict[str, Any]) -> ValidationResult:
    """Check one parsed record of the project's place format."""
    errors: list[RecordIssue] = []
    warnings: list[RecordIssue] = []

    def fail(name: str, message: str) -> None:
        errors.append(RecordIssue(locator, name, message))

    def warn(name: str, message: str) -> None:
        warnings.append(RecordIssue(locator, name, message))

    for name, message in _shape_problems(fields):
        fail(name, message)
    if errors:  # the checks below assume text where text belongs
        return ValidationResult(None, errors, warnings)
    for name in REQUIRED:
        if fields.get(name) in (None, ""):
            fail(name, "is required")
    kind = fields.get("kind")
    if kind and kind not in vocab.PLACE_KINDS:
        fail("kind", f"must be one of {', '.join(vocab.PLACE_KINDS)}")
    status = fields.get("status")  # None: a new place is active, an existing one keeps its own
    if status is not None and status not in vocab.PLACE_STATUSES:
        fail("status", f"must be one of {', '.join(vocab.PLACE_STATUSES)}")
    country = fields.get("country")
    if country and not _COUNTRY.match(country):
        fail("country", "must be an ISO 3166-1 alpha-2 code such as GB")

    lat = _coordinate(fields.get("lat"), "lat", fail)
    lon = _coordinate(fields.get("lon"), "lon", fail)

    tz = fields.get("timezone")
    if tz:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            fail("timezone", "is not an IANA time zone name")

    hours_json = None
    try:
        hours_json = _hours_json(fields.get("opening_hours"), fields.get("hours_exceptions"))
    except HoursSyntaxError as exc:
        # A spelling people write ("Mo-Fr 9:00-17:00, Sa 10:00-12:00", "Su closed") is read
        # with a warning; what still cannot be read refuses the record.
        text = fields.get("opening_hours")
        normalised, notes = normalise_opening_hours(text) if text else (None, ())
        try:
            if normalised is None:
                raise exc
            hours_json = _hours_json(normalised, fields.get("hours_exceptions"))
            warn("opening_hours", f"{text!r} read as {normalised!r}")
            for note in notes:
                warn("opening_hours", note)
        except HoursSyntaxError as again:
            fail("opening_hours", str(again))

    lists = {}
    for name, allowed in (("services", vocab.SERVICES), ("accessibility", vocab.ACCESSIBILITY)):
        codes = list(dict.fromkeys(fields.get(name) or []))
        unknown = [c for c in codes if c not in allowed]
        if unknown:
            # Publishers extend the Open Banking lists; keep the fact as "Other", say so.
            warn(name, f"unknown code(s) {', '.join(unknown)} kept as Other")
            codes = list(dict.fromkeys(c if c in allowed else "Other" for c in codes))
        lists[name] = sorted(codes)  # order carries no meaning: a reordered list is no change
    methods = sorted(dict.fromkeys(fields.get("repayment_methods") or []))
    unknown = [m for m in methods if m not in vocab.REPAYMENT_METHODS]
    if unknown:
        fail("repayment_methods", f"unknown method(s): {', '.join(unknown)}")
    lists["repayment_methods"] = methods

    fee = None
    if fields.get("repayment_fee") not in (None, ""):
        try:
            fee = Decimal(str(fields["repayment_fee"]))
            if not fee.is_finite() or fee < 0 or fee >= MAX_FEE:
                raise InvalidOperation
        except InvalidOperation:
            fail("repayment_fee", f"must be an amount from 0 to {MAX_FEE - Decimal('0.01')}")
            fee = None
        if fee is not None and fee != fee.quantize(Decimal("0.01")):
            fail("repayment_fee", "has more than two decimals")
            fee = None
    currency = fields.get("repayment_fee_currency")
    if currency and not _CURRENCY.match(currency):
        fail("repayment_fee_currency", "must be an ISO 4217 code such as GBP")
    if fee is not None and not currency:
        fail("repayment_fee_currency", "is required with a fee")
    posting = fields.get("repayment_posting")
    if posting and posting not in vocab.REPAYMENT_POSTING:
        fail("repayment_posting", f"must be one of {', '.join(vocab.REPAYMENT_POSTING)}")
    cutoff = None
    if fields.get("repayment_cutoff"):
        match = _HHMM.match(str(fields["repayment_cutoff"]))
        if match:
            cutoff = time(int(match[1]), int(match[2]))
        else:
            fail("repayment_cutoff", "must be a local time HH:MM")
    if lists["repayment_methods"] and fee is None:
        fail("repayment_fee", "is required where repayments are taken (0.00 when free)")

    verified = None
    if fields.get("last_verified_at"):
        try:
            verified = datetime.fromisoformat(str(fields["last_verified_at"]))
            if verified.tzinfo is None:
                raise ValueError
        except ValueError:
            fail("last_verified_at", "must be an ISO 8601 timestamp with offset")
            verified = None

    if errors:
        return ValidationResult(None, errors, warnings)
    values = {
        "source": fields["source"], "external_id": fields["external_id"], "kind": kind,
        "name": fields["name"], "brand": fields.get("brand"), "street": fields.get("street"),
        "locality": fields.get("locality"), "region": fields.get("region"),
        "postcode": fields.get("postcode"), "country": country, "timezone": tz,
        "opening_hours": hours_json, **lists, "repayment_fee": fee,
        "repayment_fee_currency": currency, "repayment_posting": posting,
        "repayment_cutoff": cutoff, "phone": fields.get("phone"), "status": status,
        "last_verified_at": verified,
    }
    return ValidationResult(PlaceRecord(values, lat, lon), [], warnings)  # type: ignore[arg-type]
