"""Any CSV read through a column mapping: our field names to the file's headers.

A partner's or regulator's file (`ID, Name, Brand, Latitude, Longitude, Street, City, ...`) goes
in with `columns` = {"external_id": "ID", "name": "Name", "lat": "Latitude", ...}; `defaults`
give values for fields the file lacks ({"kind": "branch"}). Headers are compared ignoring case
and surrounding spaces; the delimiter (comma, tab or semicolon) is taken from the header.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from itertools import chain
from typing import Any, BinaryIO

from backend.uploads.parsers import (
    COLUMNS,
    LIST_COLUMNS,
    FileFormatError,
    RawRecord,
    blank_fields,
    clean_text,
    split_list,
)
from backend.uploads.parsers.csv_ import text_lines
from backend.uploads.parsers.osm import sniff_delimiter

MAPPABLE = tuple(c for c in COLUMNS if c != "source")
# Headers that look like one of our fields, for the hint of a CSV no format matches.
_LOOKS_LIKE = (
    ("lat", re.compile(r"^(lat|latitude|y|geo_?lat|.*[ _]lat(itude)?)$")),
    ("lon", re.compile(r"^(lon|lng|long|longitude|x|geo_?lon|.*[ _](lon|lng|longitude))$")),
    ("external_id", re.compile(r"^(id|.*[ _]id|code|ref|reference|number|no|site[ _]?code)$")),
    ("name", re.compile(r"^(name|.*[ _]name|title|branch|atm|location|site)$")),
    ("street", re.compile(r"^(address|street|address[ _]?line[ _]?1|addr)$")),
    ("locality", re.compile(r"^(city|town|locality|suburb)$")),
    ("postcode", re.compile(r"^(post[ _]?code|postal[ _]?code|zip|zip[ _]?code)$")),
    ("country", re.compile(r"^(country|country[ _]?code)$")),
    ("brand", re.compile(r"^(brand|bank|operator|institution)$")),
)


def parse_mapping(value: Any, name: str) -> dict[str, str]:
    """A `columns` or `defaults` value (JSON text or a dict) as {our field: text}.

    :raises ValueError: with a message naming what is wrong.
    """
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(f'must be a JSON object such as {{"name": "Name"}} '
                             f"(not {value[:40]!r})") from None
    if not isinstance(value, dict):
        raise ValueError('must be a JSON object such as {"name": "Name"}')
    unknown = sorted(k for k in value if k not in MAPPABLE)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; the fields are "
                         f"{', '.join(MAPPABLE)}")
    bad = sorted(k for k, v in value.items() if not isinstance(v, str) or not v.strip())
    if bad:
        raise ValueError(f"the value of {', '.join(bad)} must be non-empty text")
    if name == "columns" and not value:
        raise ValueError("names no column")
    return {k: v.strip() for k, v in value.items()}


def parse_mapped_csv(stream: BinaryIO, columns: Mapping[str, str],
                     defaults: Mapping[str, str] | None = None) -> Iterator[RawRecord]:
    """Yield one RawRecord per row, each of our fields read from its mapped header.

    :raises FileFormatError: for bad encoding, broken CSV, or a mapped header the file lacks.
    """
    lines = text_lines(stream)
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        raise FileFormatError("the file is empty: expected a CSV header row")
    reader = csv.reader(chain([first], lines), delimiter=sniff_delimiter(first), strict=True)
    try:
        header = [name.strip() for name in next(reader)]
        lowered = [name.lower() for name in header]
        missing = [f"{field}: {column!r}" for field, column in columns.items()
                   if column.lower() not in lowered]
        if missing:
            raise FileFormatError(f"the CSV has no header(s) {', '.join(missing)}; its headers "
                                  f"are {', '.join(header)}")
        positions = {field: lowered.index(column.lower()) for field, column in columns.items()}
        end = reader.line_num
        for row in reader:
            start, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise FileFormatError(
                    f"row {start}: {len(row)} fields but the header has {len(header)} "
                    "(values containing the delimiter must be quoted)")
            fields = blank_fields()
            for field, position in positions.items():
                value = clean_text(row[position])
                fields[field] = split_list(value) if field in LIST_COLUMNS else value
            for field, value in (defaults or {}).items():
                if fields.get(field) in (None, "", []):
                    fields[field] = split_list(value) if field in LIST_COLUMNS else value
            yield RawRecord(f"row {start}", fields)
    except csv.Error as error:
        raise FileFormatError(f"line {reader.line_num}: malformed CSV ({error})") from None


def suggest_columns(header: list[str]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Which headers look like coordinates, names, ids...; and a `columns` value to start from."""
    looks: dict[str, list[str]] = {}
    for name in header:
        key = name.strip().lower()
        for field, pattern in _LOOKS_LIKE:
            if pattern.match(key):
                looks.setdefault(field, []).append(name.strip())
                break
    return looks, {field: names[0] for field, names in looks.items()}
