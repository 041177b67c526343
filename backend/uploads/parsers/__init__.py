"""Streaming parsers of place files into raw records that use the project's column names.

Formats (FORMATS): the project's own CSV and GeoJSON (`nearbank-csv`, `nearbank-geojson`), UK
Open Banking Open Data v2.x ATM and Branch responses (`ob-atm`, `ob-branch`) and OpenStreetMap
extracts of banks and ATMs (`osm-overpass`, `osm-geojson`, `osm-csv`), and any CSV read through a
column mapping (`mapped-csv`, see backend.uploads.parsers.mapped). Every parser yields
RawRecords whose `fields` have exactly the keys of COLUMNS, so one validation serves every format.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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

FORMATS = ("nearbank-csv", "nearbank-geojson", "ob-atm", "ob-branch", "osm-overpass",
           "osm-geojson", "osm-csv", "mapped-csv")
# Enough to see a CSV header or the first feature / first Brand of a JSON file.
HEAD_BYTES = 64 * 1024


class FileFormatError(ValueError):
    """The file cannot be read as the project's place format; the message is one plain line."""


@dataclass
class RawRecord:
    """One place as read from a file, before validation.

    `locator` says where it came from (`row 12`: 1-based line in a CSV, the header being line 1;
    `feature 3`: 0-based index in a GeoJSON FeatureCollection; `data[0].Brand[0].ATM[3]`: the
    JSON path in an Open Banking file). `fields` has every column of COLUMNS as a key: text
    stripped, empty text as None, list columns as list[str] (empty list when empty), `lat`/`lon`
    as found in the file (string or number, or None). `warnings` are what the parser tolerated
    and reports: a deviation it read anyway, or something it could not carry over.
    """

    locator: str
    fields: dict[str, object]
    warnings: list[str] = field(default_factory=list)


def clean_text(value: object) -> object:
    """Strip a string and turn an empty one into None; leave other values as they are."""
    if isinstance(value, str):
        value = value.strip()
        if value[:1] == "'" and value[1:2] in FORMULA_STARTS:
            # The prefix report.csv adds so spreadsheets don't run a cell as a formula.
            value = value[1:]
        return value or None
    return value


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


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


def blank_fields() -> dict[str, object]:
    """A fields dict with every column empty (None, or [] for list columns)."""
    return {column: [] if column in LIST_COLUMNS else None for column in COLUMNS}


Parser = Callable[[BinaryIO], Iterator[RawRecord]]


def parser_for_format(file_format: str) -> Parser:
    """The parser of one of FORMATS; FileFormatError for another name."""
    # Imported here because the parser modules import this package.
    from backend.uploads.parsers.csv_ import parse_csv
    from backend.uploads.parsers.geojson import parse_geojson
    from backend.uploads.parsers.openbanking import parse_ob_atms, parse_ob_branches
    from backend.uploads.parsers.osm import parse_osm_csv, parse_osm_geojson, parse_osm_overpass

    parsers: dict[str, Parser] = {
        "nearbank-csv": parse_csv, "nearbank-geojson": parse_geojson, "ob-atm": parse_ob_atms,
        "ob-branch": parse_ob_branches, "osm-geojson": parse_osm_geojson,
        "osm-csv": parse_osm_csv, "osm-overpass": parse_osm_overpass,
    }
    if file_format not in parsers:
        raise FileFormatError(f"unknown format '{file_format}': use one of {', '.join(FORMATS)}")
    return parsers[file_format]


def parser_for(filename: str) -> Parser:
    """The parser of the project's own format for a file name's extension (.csv, .geojson, .json).

    Foreign formats share these extensions: use detect_format to tell them apart.
    """
    from backend.uploads.parsers.detect import family_of

    family = family_of(filename)
    return parser_for_format("nearbank-csv" if family == "csv" else "nearbank-geojson")


def detect_format(head: bytes, filename: str) -> str:
    """The format (one of FORMATS) of a file from its first bytes and its name's extension.

    `head` is the start of the file (HEAD_BYTES is plenty; it may end anywhere). The extension
    tells CSV (.csv, .tsv) from JSON (.json, .geojson); the content tells the format.

    :raises FileFormatError: for another extension, text that is not UTF-8, or content that is
        none of the formats.
    """
    from backend.uploads.parsers.detect import detect

    return detect(head, filename)


def parse_file(path_or_stream: str | os.PathLike[str] | BinaryIO, filename: str,
               format: str | None = None) -> Iterator[RawRecord]:
    """Parse a path or binary stream as `format`, or as the format detect_format finds.

    Detection reads the first HEAD_BYTES and puts them back (seek, or a replaying wrapper for
    a stream that cannot seek). A bad extension, format name or undetectable content raises
    FileFormatError at once; format errors inside the file are raised while iterating.
    """
    if isinstance(path_or_stream, (str, os.PathLike)):
        if format is None:
            with open(path_or_stream, "rb") as stream:
                format = detect_format(stream.read(HEAD_BYTES), filename)
        return _parse_path(path_or_stream, parser_for_format(format))
    stream = path_or_stream
    if format is None:
        if stream.seekable():
            start = stream.tell()
            head = stream.read(HEAD_BYTES)
            stream.seek(start)
        else:
            head = stream.read(HEAD_BYTES)
            stream = io.BufferedReader(_Replay(head, stream))
        format = detect_format(head, filename)
    return parser_for_format(format)(stream)


def _parse_path(path: str | os.PathLike[str], parser: Parser) -> Iterator[RawRecord]:
    with open(path, "rb") as stream:
        yield from parser(stream)


class _Replay(io.RawIOBase):
    """A stream that yields `head` again, then the rest of `stream` (which cannot seek)."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = memoryview(head)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._stream.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)
