"""Parser of the project's GeoJSON place format (an RFC 7946 FeatureCollection of Points)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from backend.uploads.parsers import (
    COLUMNS,
    LIST_COLUMNS,
    FileFormatError,
    RawRecord,
    clean_text,
    split_list,
)
from backend.uploads.parsers.jsonstream import build_value, is_scalar, json_events

NOT_A_FEATURE_COLLECTION = ('not a GeoJSON FeatureCollection: expected "type": '
                            '"FeatureCollection" at the top level')


def parse_geojson(stream: BinaryIO) -> Iterator[RawRecord]:
    """Yield one RawRecord per feature of a GeoJSON FeatureCollection read from a binary stream.

    lat/lon come from a Point geometry's coordinates ([lon, lat]); any other geometry gives
    None for both. Bad encoding, invalid JSON, or anything but a FeatureCollection of Feature
    objects raise FileFormatError.
    """
    for index, feature in iter_features(stream):
        properties = feature_properties(feature, index)
        lat, lon = point_lat_lon(feature.get("geometry"))
        raw = {**properties, "lat": lat, "lon": lon}
        fields: dict[str, object] = {}
        for column in COLUMNS:
            value = raw.get(column)
            fields[column] = split_list(value) if column in LIST_COLUMNS else clean_text(value)
        yield RawRecord(f"feature {index}", fields)


def iter_features(stream: BinaryIO) -> Iterator[tuple[int, dict]]:
    """(index, feature object) for each feature of a FeatureCollection, streamed.

    The top-level "type" is checked when it is read: before the features in the usual key
    order, otherwise after them (JSON objects are unordered), so an error can follow records.
    """
    events = json_events(stream)
    _, event, _ = next(events)
    if event != "start_map":
        raise FileFormatError(NOT_A_FEATURE_COLLECTION)
    seen_type = seen_features = False
    index = 0
    for prefix, event, value in events:
        if prefix == "type":
            if not (is_scalar(event) and value == "FeatureCollection"):
                raise FileFormatError(NOT_A_FEATURE_COLLECTION)
            seen_type = True
        elif prefix == "features":
            if event == "start_array":
                seen_features = True
            elif event != "end_array":
                raise FileFormatError('the FeatureCollection has no "features" array')
        elif prefix == "features.item":
            feature = build_value(events, event, value)
            if not isinstance(feature, dict) or feature.get("type") != "Feature":
                raise FileFormatError(f"feature {index}: not a GeoJSON Feature object")
            yield index, feature
            index += 1
    if not seen_type:
        raise FileFormatError(NOT_A_FEATURE_COLLECTION)
    if not seen_features:
        raise FileFormatError('the FeatureCollection has no "features" array')


def feature_properties(feature: dict, index: int) -> dict:
    """A feature's properties object ({} when null); FileFormatError when it is not an object."""
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        raise FileFormatError(f'feature {index}: "properties" is not an object')
    return properties


def point_lat_lon(geometry: object) -> tuple[object, object]:
    """(lat, lon) as found in a Point geometry's coordinates, else (None, None)."""
    if isinstance(geometry, dict) and geometry.get("type") == "Point":
        coordinates = geometry.get("coordinates")
        if isinstance(coordinates, list) and len(coordinates) >= 2:
            return coordinates[1], coordinates[0]
    return None, None
