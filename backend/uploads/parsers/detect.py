"""Telling a file's format from its name's extension and its first bytes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import PurePath

from backend.uploads.parsers import COLUMNS, UTF8_BOM, FileFormatError
from backend.uploads.parsers.jsonstream import CheckedLines, is_scalar, json_events
from backend.uploads.parsers.osm import COORDINATE_COLUMNS, OSM_ID, sniff_delimiter

CSV_EXTENSIONS = (".csv", ".tsv")
JSON_EXTENSIONS = (".json", ".geojson")
# Columns only the project's own format has (OSM has tags named source, name, opening_hours...).
NEARBANK_ONLY = frozenset((
    "external_id", "kind", "locality", "timezone", "hours_exceptions", "services",
    "accessibility", "repayment_methods", "repayment_fee", "repayment_fee_currency",
    "repayment_posting", "repayment_cutoff", "last_verified_at",
)) & frozenset(COLUMNS)
OSM_KEYS = frozenset(("@id", "@type", "osm_id", "osm_type", "amenity", "atm"))

UNKNOWN_CSV = (
    "the CSV header matches no supported format: expected the Nearbank columns (source, "
    "external_id, kind, name, ...) or an OpenStreetMap extract (Latitude and Longitude "
    "columns and tag columns such as amenity)"
)
UNKNOWN_JSON = (
    "not a supported JSON format: expected a GeoJSON FeatureCollection, an Overpass API answer "
    '({"elements": [...]}) or an Open Banking ATM or Branch response '
    '({"data": [{"Brand": [{"BrandName": ..., "ATM": [...]}]}]})'
)
UNKNOWN_OPEN_BANKING = (
    'an Open Banking response must hold "data": [{"Brand": [{"BrandName": ..., "ATM": [...]}]}] '
    '(or "Branch": [...]); no ATM or Branch list was found'
)


def family_of(filename: str) -> str:
    """"csv" or "json" from a file name's extension; FileFormatError for any other."""
    suffix = PurePath(filename).suffix.lower()
    if suffix in CSV_EXTENSIONS:
        return "csv"
    if suffix in JSON_EXTENSIONS:
        return "json"
    shown = f"'{suffix}'" if suffix else "no extension"
    raise FileFormatError(
        f"unsupported file type ({shown}): upload a .csv, .tsv, .geojson or .json file"
    )


def detect(head: bytes, filename: str) -> str:
    """The format of a file from its head (see backend.uploads.parsers.detect_format)."""
    family = family_of(filename)
    _check_text(head)
    data = head.removeprefix(UTF8_BOM)
    start = data.lstrip()[:1]
    if family == "csv":
        if start in (b"{", b"["):
            raise FileFormatError("the file is named .csv but holds JSON: name it .json or "
                                  ".geojson")
        return _csv_format(data)
    if not start:
        return "nearbank-geojson"  # empty: its parser says so
    return _json_format(data)


def _check_text(head: bytes) -> None:
    """Refuse a head that is not UTF-8 text (the head may end inside a character)."""
    reader = CheckedLines(io.BytesIO(head), partial=True)
    while reader.read():
        pass


def _csv_format(data: bytes) -> str:
    lines = data.decode("utf-8", errors="ignore").splitlines()
    header_line = next((line for line in lines if line.strip()), None)
    if header_line is None:
        return "nearbank-csv"  # empty: its parser says so
    try:
        header = next(csv.reader([header_line], delimiter=sniff_delimiter(header_line)))
    except csv.Error:
        header = header_line.split(",")
    names = {name.strip().lower() for name in header}
    ours = names & NEARBANK_ONLY
    if "external_id" in names or len(ours) >= 2:
        return "nearbank-csv"
    has_coordinates = any(lat in names and lon in names for lat, lon in COORDINATE_COLUMNS)
    if has_coordinates and (names & OSM_KEYS or any(n.startswith("addr:") for n in names)):
        return "osm-csv"
    if ours:
        return "nearbank-csv"  # its parser names the missing columns
    raise FileFormatError(_unknown_csv([name.strip() for name in header]))


def _unknown_csv(header: list[str]) -> str:
    """UNKNOWN_CSV, with the headers that look like ours and the `columns` value to send."""
    from backend.uploads.parsers.mapped import suggest_columns

    looks, columns = suggest_columns(header)
    if not looks:
        return (f"{UNKNOWN_CSV}; or send `columns`, a JSON object from our field names to "
                'your headers, e.g. {"external_id": "ID", "name": "Name", "lat": "Latitude", '
                '"lon": "Longitude"}')
    labels = {"lat": "latitude", "lon": "longitude", "external_id": "ids", "name": "names"}
    seen = "; ".join(f"{', '.join(names)} look(s) like {labels.get(field, field)}"
                     for field, names in looks.items())
    return (f"{UNKNOWN_CSV}. {seen}. To read it by column mapping, send `columns` (and "
            f'`defaults` for what the file lacks, e.g. {{"kind": "branch"}}): '
            f"{json.dumps(columns, ensure_ascii=False)}")


def _json_format(data: bytes) -> str:
    top_keys: set[str] = set()
    feature_keys: set[str] = set()
    feature_ids: list[str] = []
    events = json_events(io.BytesIO(data), partial=True)
    try:
        for prefix, event, value in events:
            if prefix == "":
                if event == "map_key":
                    if value == "elements":
                        return "osm-overpass"
                    top_keys.add(str(value))
                elif event != "start_map" and event != "end_map":
                    raise FileFormatError(UNKNOWN_JSON)
            elif prefix == "data.item.Brand.item" and event == "map_key":
                if value == "ATM":
                    return "ob-atm"
                if value == "Branch":
                    return "ob-branch"
            elif prefix == "features.item.properties" and event == "map_key":
                feature_keys.add(str(value))
            elif prefix in ("features.item.id", "features.item.properties.@id",
                            "features.item.properties.id") and is_scalar(event):
                feature_ids.append(str(value))
            elif prefix == "features.item" and event == "end_map":
                break  # the first feature tells the flavour
    finally:
        events.close()
    if top_keys & {"type", "features"}:
        return _geojson_format(feature_keys, feature_ids)
    if "data" in top_keys:
        raise FileFormatError(UNKNOWN_OPEN_BANKING)
    raise FileFormatError(UNKNOWN_JSON)


def _geojson_format(keys: set[str], ids: list[str]) -> str:
    """Our GeoJSON or an OSM one, from the first feature's property keys and ids."""
    if "tags" in keys:
        return "osm-geojson"
    if keys & NEARBANK_ONLY:
        return "nearbank-geojson"
    if (keys & OSM_KEYS or any(key.startswith("addr:") for key in keys)
            or any(OSM_ID.fullmatch(value) for value in ids)):
        return "osm-geojson"
    return "nearbank-geojson"  # its parser and validation say what is missing
