"""Parsers of OpenStreetMap extracts of banks and ATMs as people export them: Overpass JSON
(`elements`), GeoJSON (osmtogeojson / Overpass Turbo with tags under `properties.tags`, osmium
and ogr2ogr with flat tags) and CSV.

Decisions:
- amenity=bank is a branch, amenity=atm an ATM, amenity=bureau_de_change and post_office a
  partner outlet; an element with atm=yes and no amenity is an ATM. Anything else is still
  yielded, with kind None and a warning, so validation rejects it visibly: nothing is dropped
  silently.
- Names: `name`, then `name:en`, `brand`, `operator`; failing all, a readable default ("ATM")
  with a warning saying so.
- Country and time zone are left empty unless tagged: the upload takes them from the point.
- Services: an ATM withdraws cash unless cash_out=no; cash_in=yes adds CashDeposits (the
  repayment point cardholders look for). OSM has no repayment facts: those stay empty.
"""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Iterator, Mapping
from itertools import chain
from typing import BinaryIO

import shapely.geometry
from shapely.errors import ShapelyError

from backend.hours import normalise_opening_hours
from backend.uploads.parsers import FileFormatError, RawRecord, blank_fields
from backend.uploads.parsers.csv_ import text_lines
from backend.uploads.parsers.foreign import Notes, country_code, phone_number, quoted, text
from backend.uploads.parsers.geojson import feature_properties, iter_features, point_lat_lon
from backend.uploads.parsers.jsonstream import build_value, json_events

KINDS = {"bank": "branch", "atm": "atm", "bureau_de_change": "partner_outlet",
         "post_office": "partner_outlet"}
KIND_LABELS = {"branch": "Bank", "atm": "ATM", "partner_outlet": "Outlet"}
AMENITY_LABELS = {"bureau_de_change": "Bureau de change", "post_office": "Post office"}
ELEMENT_TYPES = {"node": "node", "way": "way", "relation": "relation", "n": "node", "w": "way",
                 "r": "relation"}
# Coordinate column pairs of OSM CSV exports (header names compared in lower case).
COORDINATE_COLUMNS = (("latitude", "longitude"), ("lat", "lon"), ("@lat", "@lon"),
                      ("lat", "lng"), ("y", "x"))
# Id and element-type columns: Overpass (@id, @type), osmium/ogr (osm_id, osm_type), others.
ID_COLUMNS = (("@id", "@type"), ("osm_id", "osm_type"), ("id", "type"))
_ID_COLUMN_NAMES = frozenset(name for pair in ID_COLUMNS for name in pair)
# Properties osmtogeojson adds beside the tags; they are not tags of the place.
_META_PROPERTIES = frozenset(("id", "tags", "relations", "meta", "osm_id", "osm_type",
                              "full_id"))
OSM_ID = re.compile(r"(node|way|relation)/([0-9]+)")
_SHORT_OSM_ID = re.compile(r"([nwrNWR])([0-9]+)")
NOT_OVERPASS = ('not an Overpass API JSON answer: expected {"elements": [{"type": "node", '
                '"id": ..., "lat": ..., "lon": ..., "tags": {...}}, ...]}')
def parse_osm_geojson(stream: BinaryIO) -> Iterator[RawRecord]:
    """Yield one RawRecord per feature of an OSM GeoJSON FeatureCollection.

    Tags are read from `properties.tags` (osmtogeojson) or from flat properties (Overpass
    Turbo's export); the id from the feature's "node/123" id, `@id`, or `type` + `id`.

    :raises FileFormatError: for bad encoding, invalid JSON or not a FeatureCollection.
    """
    for index, feature in iter_features(stream):
        properties = feature_properties(feature, index)
        notes = Notes()
        tags = properties.get("tags")
        if not isinstance(tags, dict):
            tags = {key: value for key, value in properties.items()
                    if not key.startswith("@") and key not in _META_PROPERTIES}
        osm_id = _feature_id(feature, properties, notes)
        lat, lon = _feature_lat_lon(feature.get("geometry"), notes)
        yield RawRecord(f"feature {index}", fields_from_tags(tags, osm_id, lat, lon, notes),
                        notes.items)


def parse_osm_overpass(stream: BinaryIO) -> Iterator[RawRecord]:
    """Yield one RawRecord per element of an Overpass API JSON answer (`[out:json]`).

    Nodes carry `lat`/`lon`; ways and relations carry a `center` (`out center;`) or, without
    one, their `bounds`' middle (with a warning), or no point at all (rejected with a reason).
    Elements without tags (a way's member nodes from `>;`) are not places and are skipped.

    :raises FileFormatError: for bad encoding, invalid JSON or no `elements` array.
    """
    events = json_events(stream)
    _, event, _ = next(events)
    if event != "start_map":
        raise FileFormatError(NOT_OVERPASS)
    seen = False
    index = 0
    for prefix, event, value in events:
        if prefix == "elements":
            if event == "start_array":
                seen = True
            elif event != "end_array":
                raise FileFormatError(NOT_OVERPASS)
        elif prefix == "elements.item":
            element = build_value(events, event, value)
            locator = f"elements[{index}]"
            index += 1
            if not isinstance(element, dict):
                raise FileFormatError(f"{locator}: not an OSM element object")
            tags = element.get("tags")
            if not isinstance(tags, dict) or not tags:
                continue
            notes = Notes()
            osm_id = element_id(element.get("id"), element.get("type"), notes)
            lat, lon = _element_lat_lon(element, notes)
            yield RawRecord(locator, fields_from_tags(tags, osm_id, lat, lon, notes), notes.items)
    if not seen:
        raise FileFormatError(NOT_OVERPASS)


def _element_lat_lon(element: dict, notes: Notes) -> tuple[object, object]:
    if "lat" in element or "lon" in element:
        return element.get("lat"), element.get("lon")
    center = element.get("center")
    if isinstance(center, dict):
        return center.get("lat"), center.get("lon")
    bounds = element.get("bounds")
    if isinstance(bounds, dict):
        try:
            lat = (float(bounds["minlat"]) + float(bounds["maxlat"])) / 2
            lon = (float(bounds["minlon"]) + float(bounds["maxlon"])) / 2
        except (KeyError, TypeError, ValueError):
            return None, None
        notes.add("no center: the middle of the element's bounds is used")
        return round(lat, 7), round(lon, 7)
    notes.add(f"{text(element.get('type')) or 'element'} without a point: export with "
              "`out center;` so ways and relations carry one")
    return None, None


def parse_osm_csv(stream: BinaryIO) -> Iterator[RawRecord]:
    """Yield one RawRecord per row of an OSM CSV extract: coordinate columns plus tag columns.

    The delimiter (comma, tab or semicolon: Overpass writes tabs) is taken from the header.
    A row without a tag value (a way's member node, which osmconvert and Overpass write beside
    the way) is skipped, as in Overpass JSON, when the header has tag columns.

    :raises FileFormatError: for bad encoding, broken CSV or no coordinate columns.
    """
    lines = text_lines(stream)
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        raise FileFormatError("the file is empty: expected a CSV header row")
    reader = csv.reader(chain([first], lines), delimiter=sniff_delimiter(first), strict=True)
    try:
        header = [name.strip() for name in next(reader)]
        names = [name.lower() for name in header]
        lat_column, lon_column = coordinate_columns(names)
        has_tag_columns = any(name not in (lat_column, lon_column) and not name.startswith("@")
                              and name not in _ID_COLUMN_NAMES for name in names)
        end = reader.line_num
        for row in reader:
            start, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise FileFormatError(
                    f"row {start}: {len(row)} fields but the header has {len(header)}"
                )
            cells = {name: cell.strip() for name, cell in zip(names, row, strict=True)
                     if cell.strip()}
            notes = Notes()
            osm_id = _csv_id(cells, notes)
            tags = {name: value for name, value in cells.items()
                    if name not in (lat_column, lon_column) and not name.startswith("@")}
            if has_tag_columns and not tags.keys() - _ID_COLUMN_NAMES:
                continue  # a way's member node (osmconvert, Overpass `>;`): not a place
            yield RawRecord(f"row {start}", fields_from_tags(
                tags, osm_id, cells.get(lat_column), cells.get(lon_column), notes), notes.items)
    except csv.Error as error:
        raise FileFormatError(f"line {reader.line_num}: malformed CSV ({error})") from None


def sniff_delimiter(header: str) -> str:
    """The delimiter of a header line: whichever of comma, tab and semicolon splits it most."""

    def fields(delimiter: str) -> int:
        try:
            return len(next(csv.reader([header], delimiter=delimiter)))
        except csv.Error:
            return 0

    return max((",", "\t", ";"), key=fields)  # the first wins a tie: comma


def coordinate_columns(names: list[str]) -> tuple[str, str]:
    """The (lat, lon) column names of a lower-cased header; FileFormatError when absent."""
    for lat, lon in COORDINATE_COLUMNS:
        if lat in names and lon in names:
            return lat, lon
    raise FileFormatError("the CSV has no coordinate columns: expected Latitude and Longitude "
                          "(or lat and lon)")


def fields_from_tags(tags: Mapping[str, object], osm_id: str | None, lat: object, lon: object,
                     notes: Notes) -> dict[str, object]:
    """Our columns from an OSM element's tags, id and coordinates, noting what was tolerated."""
    tag = {key: value for key, value in ((key, text(value)) for key, value in tags.items())
           if value is not None}
    fields = blank_fields()
    fields.update(external_id=osm_id, lat=lat, lon=lon)
    amenity = tag.get("amenity")
    fields["kind"] = KINDS.get(amenity or "")
    if fields["kind"] is None and not amenity and tag.get("atm") == "yes":
        fields["kind"] = "atm"  # an ATM mapped by its atm tag alone
    if fields["kind"] is None:
        shown = f"amenity={amenity}" if amenity else "no amenity tag"
        notes.add(f"{shown}: not a bank, ATM, bureau de change or post office; kind left "
                  "empty")
    brand = tag.get("brand") or tag.get("operator")
    fields["brand"] = brand
    fields["name"] = _name(tag, fields["kind"], AMENITY_LABELS.get(amenity or ""), notes)
    house, street = tag.get("addr:housenumber"), tag.get("addr:street") or tag.get("addr:place")
    fields["street"] = f"{house} {street}" if house and street else street
    fields.update(
        locality=tag.get("addr:city"), region=tag.get("addr:state") or tag.get("addr:province"),
        postcode=tag.get("addr:postcode"),
        country=country_code(tag.get("addr:country"), notes, "addr:country"),
    )
    fields["opening_hours"] = osm_opening_hours(tag.get("opening_hours"), notes)
    fields["accessibility"] = _accessibility(tag.get("wheelchair"), notes)
    if fields["kind"] == "atm":
        fields["services"] = [
            *(["CashWithdrawal"] if tag.get("cash_out") != "no" else []),
            *(["CashDeposits"] if tag.get("cash_in") == "yes" else []),
        ]
    elif fields["kind"] == "branch" and tag.get("atm") == "yes":
        fields["services"] = ["ExternalATM"]
    phone = tag.get("phone") or tag.get("contact:phone")
    if phone and ";" in phone:  # OSM separates several values with ";"
        phone = phone.split(";")[0]
        notes.add("phone has several numbers: the first is kept")
    fields["phone"] = phone_number(phone, notes, "phone")
    return fields


def osm_opening_hours(value: str | None, notes: Notes) -> str | None:
    """An OSM opening_hours value in our notation (an OSM subset), or None with a warning.

    See backend.hours.normalise_opening_hours: spellings that mean the same are rewritten,
    holiday and dated rules are left out with a warning naming each, and a value that cannot be
    read leaves the hours unknown with a warning quoting it; the place is kept.
    """
    if value is None:
        return None
    hours, warnings_ = normalise_opening_hours(value)
    for warning in warnings_:
        notes.add(warning)
    return hours


def element_id(raw_id: object, raw_type: object, notes: Notes) -> str | None:
    """An element id as "node/123" from "node/123", "n123", or 123 with type "node" / "n"."""
    value = text(raw_id)
    if value is None:
        return None
    if OSM_ID.fullmatch(value):
        return value
    if short := _SHORT_OSM_ID.fullmatch(value):
        return f"{ELEMENT_TYPES[short[1].lower()]}/{short[2]}"
    element = ELEMENT_TYPES.get((text(raw_type) or "").lower())
    if value.isdigit() and element:
        return f"{element}/{value}"
    notes.add(f"id {quoted(value)} is not an OSM element id (node/123, way/123 or "
              "relation/123): kept as given")
    return value


def _feature_id(feature: dict, properties: dict, notes: Notes) -> str | None:
    # osmtogeojson / Overpass Turbo: "node/123" ids; osmium and ogr2ogr: osm_id + osm_type.
    for raw_id, raw_type in ((feature.get("id"), None),
                             (properties.get("@id"), properties.get("@type")),
                             (properties.get("osm_id"), properties.get("osm_type")),
                             (properties.get("full_id"), None),
                             (properties.get("id"), properties.get("type"))):
        if text(raw_id) is not None:
            return element_id(raw_id, raw_type, notes)
    return None


def _csv_id(cells: dict[str, str], notes: Notes) -> str | None:
    for id_column, type_column in ID_COLUMNS:
        if id_column in cells:
            return element_id(cells[id_column], cells.get(type_column), notes)
    return None


def _feature_lat_lon(geometry: object, notes: Notes) -> tuple[object, object]:
    """A Point's raw coordinates; for another geometry a point inside it, with a warning."""
    if not isinstance(geometry, dict) or geometry.get("type") == "Point":
        return point_lat_lon(geometry)
    kind = text(geometry.get("type")) or "geometry"
    try:
        # Invalid coordinates make GEOS warn before it fails; the failure is what we report.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            point = shapely.geometry.shape(geometry).representative_point()
    except (ShapelyError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        point = None
    if point is None or point.is_empty:
        notes.add(f"geometry {quoted(kind)} cannot be read: no coordinates")
        return None, None
    notes.add(f"geometry is a {kind}, not a Point: using a point inside it")
    # 7 decimals are a centimetre: more digits would only be floating-point noise.
    return round(point.y, 7), round(point.x, 7)


def _name(tag: dict[str, str], kind: str | None, label: str | None, notes: Notes) -> str:
    if "name" in tag:
        return tag["name"]
    for key in ("name:en", "brand", "operator"):
        if key in tag:
            name = f"{tag[key]} ATM" if kind == "atm" and key != "name:en" else tag[key]
            notes.add(f"no name tag: named {quoted(name)} after its {key}")
            return name
    name = label or KIND_LABELS.get(kind or "", "Place")
    notes.add(f"no name, name:en, brand or operator tag: named {quoted(name)}")
    return name


def _accessibility(wheelchair: str | None, notes: Notes) -> list[str]:
    if wheelchair in (None, "no"):
        return []
    if wheelchair in ("yes", "designated"):
        return ["WheelchairAccess"]
    if wheelchair == "limited":
        notes.add("wheelchair=limited: no accessibility code set")
    else:
        notes.add(f"wheelchair={wheelchair} not understood: ignored")
    return []
