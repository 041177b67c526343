"""Streaming parsers of the project's own place format (CSV and GeoJSON) into raw records."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import BinaryIO

COLUMNS = (
    "source", "external_id", "kind", "name", "brand", "street", "locality", "region", "postcode",
    "country", "lat", "lon", "timezone", "opening_hours", "hours_exceptions", "services",
    "accessibility", "repayment_methods", "repayment_fee", "repayment_fee_currency",
    "repayment_posting", "repayment_cutoff", "status", "last_verified_at", "phone",
)
LIST_COLUMNS = ("services", "accessibility", "repayment_methods")
LIST_SEPARATOR = ";"

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class FileFormatError(ValueError):
    """The file cannot be read as the project's place format; the message is one plain line."""


@dataclass
class RawRecord:
    """One place as read from a file, before validation.

    `locator` says where it came from (`row 12`: 1-based line in a CSV, the header being line 1;
    `feature 3`: 0-based index in a GeoJSON FeatureCollection). `fields` has every column of
    COLUMNS as a key: text stripped, empty text as None, list columns as list[str] (empty list
    when empty), `lat`/`lon` as found in the file (string or number, or None).
    """

    locator: str
    fields: dict[str, object]


def clean_text(value: object) -> object:
    """Strip a string and turn an empty one into None; leave other values as they are."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def split_list(value: object) -> object:
    """A list column's value as a list of non-empty stripped strings (strings split on `;`).

    Values that are neither None, a string nor a list are returned unchanged for validation
    to report; non-string list items are kept as they are for the same reason.
    """
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(LIST_SEPARATOR)
    if isinstance(value, list):
        items = (clean_text(item) for item in value)
        return [item for item in items if item is not None]
    return value


def decode_utf8(data: bytes, first_line: int) -> str:
    """Strictly decode UTF-8 bytes that start at `first_line` of the file (BOM already removed).

    Other encodings, binary data and NUL bytes raise FileFormatError naming the line.
    """
    if first_line == 1 and data.startswith(UTF16_BOMS):
        raise FileFormatError("the file is UTF-16 encoded; save it as UTF-8 and upload it again")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = first_line + data.count(b"\n", 0, error.start)
        raise FileFormatError(
            f"line {line}: not UTF-8 text (byte 0x{data[error.start]:02x}); "
            "save the file as UTF-8 and upload it again"
        ) from None
    if "\x00" in text:
        line = first_line + text.count("\n", 0, text.index("\x00"))
        raise FileFormatError(
            f"line {line}: contains a NUL byte; this does not look like a text file"
        )
    return text


Parser = Callable[[BinaryIO], Iterator[RawRecord]]


def parser_for(filename: str) -> Parser:
    """The parser for a file name's extension (.csv, .geojson, .json)."""
    # Imported here because both modules import this package.
    from backend.uploads.parsers.csv_ import parse_csv
    from backend.uploads.parsers.geojson import parse_geojson

    parsers: dict[str, Parser] = {".csv": parse_csv, ".geojson": parse_geojson,
                                  ".json": parse_geojson}
    suffix = PurePath(filename).suffix.lower()
    if suffix not in parsers:
        shown = f"'{suffix}'" if suffix else "no extension"
        raise FileFormatError(
            f"unsupported file type ({shown}): upload a .csv, .geojson or .json file"
        )
    return parsers[suffix]


def parse_file(path_or_stream: str | os.PathLike[str] | BinaryIO,
               filename: str) -> Iterator[RawRecord]:
    """Parse a path or binary stream, choosing the format by `filename`'s extension.

    An unsupported extension raises FileFormatError at once; format errors inside the file
    are raised while iterating.
    """
    parser = parser_for(filename)
    if isinstance(path_or_stream, (str, os.PathLike)):
        return _parse_path(path_or_stream, parser)
    return parser(path_or_stream)


def _parse_path(path: str | os.PathLike[str], parser: Parser) -> Iterator[RawRecord]:
    with open(path, "rb") as stream:
        yield from parser(stream)
