"""Helpers shared by the parsers of other publishers' formats (Open Banking, OpenStreetMap)."""

from __future__ import annotations

import re

from backend.hours import DateException, HoursSyntaxError, OpeningHours, parse_opening_hours
from backend.uploads.parsers import clean_text

# Countries whose one IANA zone a foreign file's country implies. Open Banking publishers cover
# the UK and the Crown Dependencies; other countries are left to the upload (which fills
# the time zone of the countries we serve, with a warning) or to validation.
UK_TIMEZONES = {
    "GB": "Europe/London", "JE": "Europe/Jersey", "GG": "Europe/Guernsey",
    "IM": "Europe/Isle_of_Man", "GI": "Europe/Gibraltar",
}
_PHONE_PUNCTUATION = re.compile(r"[\s\-().]")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_NOTE_REPLACEMENTS = str.maketrans({'"': "'", ";": ","})
_RULE_PREFIX = re.compile(r'^rule [0-9]+ "[^"]*": ')


class Notes:
    """The warnings of one record: each said once, in the order found."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        """Record a warning unless the same one was already recorded."""
        if message not in self.items:
            self.items.append(message)


def text(value: object) -> str | None:
    """A scalar as stripped text (numbers as written in the file), None when empty or absent."""
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return None
    cleaned = clean_text(str(value))
    return cleaned if isinstance(cleaned, str) else None


def quoted(value: object, limit: int = 80) -> str:
    """A value for a warning: in double quotes, shortened to `limit` characters."""
    shown = str(value)
    if len(shown) > limit:
        shown = shown[:limit - 1] + "…"
    return f'"{shown}"'


def country_code(value: object, notes: Notes, label: str) -> str | None:
    """An ISO 3166-1 alpha-2 code from a file's country; "UK" is read as GB with a warning."""
    country = text(value)
    if country is not None and country.upper() == "UK":
        notes.add(f'{label} {quoted(country)} is not an ISO 3166-1 code: read as GB')
        return "GB"
    return country


def phone_number(value: object, notes: Notes, label: str) -> str | None:
    """A phone number in E.164 ("+442079460000") from the "+44-20 7946 0000" forms people use.

    Punctuation is dropped (a notation, not a change of number); anything else is kept as
    given, with a warning.
    """
    raw = text(value)
    if raw is None:
        return None
    compact = _PHONE_PUNCTUATION.sub("", raw)
    if _E164.fullmatch(compact):
        return compact
    notes.add(f"{label} {quoted(raw)} is not an international phone number: kept as given")
    return raw


def safe_note(note: str | None, notes: Notes, label: str) -> str | None:
    """A note the hours notation can hold: `"` and `;` would end it, so they are replaced."""
    if note is None:
        return None
    safe = note.translate(_NOTE_REPLACEMENTS)
    if safe != note:
        notes.add(f"{label} {quoted(note)} contains \" or ;: written as {quoted(safe)}")
    return safe


def hours_text(weekly: list[list[tuple[str, str]]],
               exceptions: list[DateException]) -> tuple[str, str | None]:
    """(opening_hours, hours_exceptions) text of a weekly schedule and dated exceptions.

    Identical days are grouped ("Mo-Fr 09:00-17:00; Sa 09:00-12:30").

    :raises HoursSyntaxError: when the result does not read back (overlapping intervals, a
        time that is not HH:MM).
    """
    hours = OpeningHours(
        tuple(tuple(sorted(day)) for day in weekly),
        tuple(sorted(exceptions, key=lambda exception: exception.date)),
    )
    opening, dated = hours.to_text()
    # The text is what the upload stores: it must read back exactly as our notation.
    parse_opening_hours(opening, dated)
    return opening, dated or None


def check_intervals(intervals: list[tuple[str, str]]) -> None:
    """Raise HoursSyntaxError unless one day's intervals are valid and do not overlap."""
    if not intervals:
        return
    try:
        parse_opening_hours("Mo " + ",".join(f"{start}-{end}" for start, end in intervals))
    except HoursSyntaxError as error:
        # The message would name the made-up rule ("rule 1 "Mo ...""): keep the reason only.
        raise HoursSyntaxError(_RULE_PREFIX.sub("", str(error), count=1)) from None

