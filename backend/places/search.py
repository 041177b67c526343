"""Place search: a typed place name or postcode to a point, for a cardholder without GPS.

The typed text is personal (it can be someone's home or workplace): it is sent to the
geocoding service for the one answer, and never stored, cached, logged or repeated in an
error. The access logs (front and gunicorn) record the path without its query string.
"""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from marshmallow import fields, validate

from backend.apidoc import status_name
from backend.errors import PROBLEM_BASE, AppError
from backend.extensions import Blueprint, limiter
from backend.geocoding import app_geocoder
from backend.i18n import gettext as _
from backend.i18n import request_language

blp = Blueprint("search", __name__, url_prefix="/api/v1",
                description="Where a place name or postcode is, for a search without GPS.")

MAX_QUERY_LENGTH = 200
# How many parts of the geocoder's full name to keep for "Showing places near: ...".
LABEL_PARTS = 3


def geocode_rate_limit() -> str:
    """The rate limit of place search (GEOCODE_RATE_LIMIT), read per request."""
    return current_app.config["GEOCODE_RATE_LIMIT"]


class PlaceNotFound(AppError):
    status, type, title = 404, PROBLEM_BASE + "place-not-found", "Place not found"


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ma.ValidationError("Type a place name or a postcode.")


class GeocodeQuerySchema(ma.Schema):
    """What the cardholder typed."""

    q = fields.String(required=True, validate=[
        validate.Length(min=1, max=MAX_QUERY_LENGTH,
                        error="Type a place name or a postcode of at most {max} characters."),
        _not_blank], metadata={
        "description": "A place name, address or postcode, as typed. Used for this answer "
                       "only: never stored or logged.", "example": "Bank station, London"})


class FoundPlaceSchema(ma.Schema):
    """The place the query was understood as: search near `lat`, `lon`; show `label`."""

    lat = fields.Float(metadata={"example": 51.5133})
    lon = fields.Float(metadata={"example": -0.0886})
    label = fields.String(metadata={
        "description": "A short name of the place understood, to show to the cardholder.",
        "example": "Bank, Cornhill, City of London"})
    name = fields.String(metadata={"description": "The geocoding service's full name."})


def short_label(name: str) -> str:
    """The first few parts of a geocoder's comma-separated name."""
    parts = [part.strip() for part in name.split(",") if part.strip()]
    return ", ".join(parts[:LABEL_PARTS])


@blp.route("/geocode")
class Geocode(MethodView):
    decorators = [limiter.limit(geocode_rate_limit)]

    @blp.arguments(GeocodeQuerySchema, location="query")
    @blp.response(200, FoundPlaceSchema, example={
        "lat": 51.5133, "lon": -0.0886, "label": "Bank, Cornhill, City of London",
        "name": "Bank, Cornhill, City of London, Greater London, England, United Kingdom"})
    @blp.alt_response(404, description="No place matches the query.")
    @blp.alt_response(429, response=status_name(429))
    def get(self, args):
        """Where a typed place name or postcode is, to search near it without GPS.

        No token needed. Limited per client address (GEOCODE_RATE_LIMIT); names come in the
        language of `Accept-Language` where the geocoding service has them. 503 with
        `Retry-After` when the geocoding service cannot be reached.
        """
        found = app_geocoder().find_place(args["q"], request_language())
        if found is None:
            raise PlaceNotFound(_("Nothing matches this place name or postcode."))
        return {"lat": round(found.lat, 6), "lon": round(found.lon, 6),
                "label": short_label(found.name) or found.name, "name": found.name}
