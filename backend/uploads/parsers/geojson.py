"""Parser of the project's GeoJSON place format (an RFC 7946 FeatureCollection of Points)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import BinaryIO

from backend.uploads.parsers import (
    COLUMNS,
    LIST_COLUMNS,
    UTF8_BOM,
    FileFormatError,
    RawRecord,
    clean_text,
    decode_utf8,
    split_list,
)


def parse_geojson(stream: BinaryIO) -> Iterator[RawRecord]:
    """Yield one RawRecord per feature of a GeoJSON FeatureCollection read from a binary stream.

    lat/lon come from a Point geometry's coordinates ([lon, lat]); any other geometry gives
    None for both. Bad encoding, invalid JSON, or anything but a FeatureCollection of Feature
    objects raise FileFormatError.
    """
    # The whole document is loaded at once for now; a streaming JSON parser (e.g. ijson over
    # "features.item") can replace json.loads without changing this generator's interface.
    data = stream.read()
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
    text = decode_utf8(data, 1)
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise FileFormatError(
            f"line {error.lineno} column {error.colno}: not valid JSON ({error.msg})"
        ) from None
    except RecursionError:
        raise FileFormatError("the JSON is nested too deeply") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise FileFormatError('not a GeoJSON FeatureCollection: expected "type": '
                              '"FeatureCollection" at the top level')
    features = document.get("features")
    if not isinstance(features, list):
        raise FileFormatError('the FeatureCollection has no "features" array')
    for index, feature in enumerate(features):
        locator = f"feature {index}"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise FileFormatError(f"{locator}: not a GeoJSON Feature object")
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            raise FileFormatError(f'{locator}: "properties" is not an object')
        lat, lon = _point_lat_lon(feature.get("geometry"))
        raw = {**properties, "lat": lat, "lon": lon}
        fields: dict[str, object] = {}
        for column in COLUMNS:
            value = raw.get(column)
            fields[column] = split_list(value) if column in LIST_COLUMNS else clean_text(value)
        yield RawRecord(locator, fields)


def _point_lat_lon(geometry: object) -> tuple[object, object]:
    if isinstance(geometry, dict) and geometry.get("type") == "Point":
        coordinates = geometry.get("coordinates")
        if isinstance(coordinates, list) and len(coordinates) >= 2:
            return coordinates[1], coordinates[0]
    return None, None


def _reject_constant(name: str) -> float:
    raise FileFormatError(f"not valid JSON: {name} is not allowed as a number")
