"""HTTP views of the places capability."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from flask import Response, current_app
from flask.views import MethodView
from flask_jwt_extended import get_jwt

from backend.accounts.auth import role_required
from backend.extensions import Blueprint, db
from backend.places import schemas, service
from backend.queues import service as queues
from backend.queues.schemas import BRANCH_NEARBY_QUERY

blp = Blueprint("places", __name__, url_prefix="/api/v1",
                description="Branches, ATMs, partner outlets and where to repay a card.")

# These endpoints carry the cardholder's position in the query string; the access log drops
# query strings on them (see backend/logging_.py).
LOCATION_ENDPOINTS = ("/api/v1/branches/nearby", "/api/v1/atms/nearby",
                      "/api/v1/places/nearby", "/api/v1/repayment-points/nearby")


# What a nearby search answers, for the docs page (one feature of the sample data).
NEARBY_EXAMPLE = {
    "type": "FeatureCollection",
    "features": [{
        "type": "Feature", "id": "47882046-5312-4048-a9d3-bf154d06445e",
        "geometry": {"type": "Point", "coordinates": [-0.141402, 51.538154]},
        "properties": {
            "id": "47882046-5312-4048-a9d3-bf154d06445e", "kind": "branch",
            "name": "Nearbank Camden Town", "brand": "Nearbank",
            "address": {"street": "197 Camden High Street", "locality": "London",
                        "region": "Greater London", "postcode": "NW1 2FN", "country": "GB"},
            "status": "active", "timezone": "Europe/London",
            "services": ["CounterServices", "ExternalATM"], "accessibility": ["LevelAccess"],
            "phone": "+442079460912", "last_verified_at": "2026-10-22T10:47:00+00:00",
            "distance_m": 90.9, "bearing_deg": 123.1, "open_now": False,
            "next_change": {"at": "2026-12-01T09:00:00+00:00", "kind": "opens"},
            "closes_soon": False,
            "repayment": {"methods": ["cash", "debit_card"],
                          "how": "Cash or debit card at the counter",
                          "fee": {"amount": "0.00", "currency": "GBP"}, "fee_free": True,
                          "posting": "same_day", "cutoff_today": "2026-12-01T16:00:00+00:00",
                          "cutoff_passed": False},
        },
    }],
    "next_cursor": None,
    "count": 1,
}


def _now() -> datetime:
    return datetime.now(UTC)


def _nearby_query(args: dict, **overrides) -> service.NearbyQuery:
    return service.NearbyQuery(
        lat=args["lat"], lon=args["lon"], radius_m=args["radius_m"], limit=args["limit"],
        kinds=overrides.get("kinds", (args["kind"],) if args.get("kind") else ()),
        services=args.get("services", ()), accessibility=args.get("accessibility", ()),
        open_now=args.get("open_now"), methods=args.get("method", ()),
        fee_free=args.get("fee_free"), repayment_only=overrides.get("repayment_only", False),
        cursor=args.get("cursor"), max_wait_min=args.get("max_wait_min"),
        queue_line=args.get("line", "counter"),
    )


def _nearby(args: dict, **overrides) -> Response:
    query = _nearby_query(args, **overrides)
    # The hot path: a pooled psycopg connection in autocommit mode (one round trip, a prepared
    # statement), and the document encoded by orjson straight into the response: the schema in
    # @blp.response documents it, flask-smorest passes a Response through without dumping.
    at = args.get("at") or _now()
    page = db.read(lambda source: service.find_nearby_places(source, query, at))
    return json_response(page.to_geojson())


def json_response(document: dict) -> Response:
    """A 200 application/json response of `document`, encoded by orjson."""
    return Response(orjson.dumps(document), mimetype="application/json")


@blp.route("/branches/nearby")
class NearbyBranches(MethodView):
    @blp.arguments(BRANCH_NEARBY_QUERY, location="query")
    @blp.response(200, schemas.FeatureCollectionSchema, example=NEARBY_EXAMPLE)
    def get(self, args):
        """Nearest branches with their queues, nearest first or soonest served.

        Public. A GeoJSON FeatureCollection of branches within `radius_m` of the point, each
        with `distance_m`, `bearing_deg`, `queue` (estimated waits per line, live or typical)
        and, where hours are known, `open_now` and the next change. `order=soonest_served`
        ranks by walking time plus the wait. The position is used for this answer only and
        never stored or logged.
        """
        # The hot path of _nearby, with the queues merged.
        query, at = _nearby_query(args, kinds=("branch",)), args.get("at") or _now()
        store, pace = (current_app.extensions["queue_store"],
                       current_app.config["QUEUE_WALKING_PACE_M_S"])
        page = db.read(lambda source: queues.find_branches_nearby(
            source, store, query, at, args["order"], pace))
        return json_response(page.to_geojson())


@blp.route("/atms/nearby")
class NearbyAtms(MethodView):
    @blp.arguments(schemas.POINT_QUERY, location="query")
    @blp.response(200, schemas.FeatureCollectionSchema, example=NEARBY_EXAMPLE)
    def get(self, args):
        """Nearest ATMs and cash-deposit machines, nearest first.

        Public. Like the branches' search, for ATMs and cash-deposit machines.
        """
        return _nearby(args, kinds=("atm",))


@blp.route("/places/nearby")
class NearbyPlaces(MethodView):
    @blp.arguments(schemas.NEARBY_PLACES_QUERY, location="query")
    @blp.response(200, schemas.FeatureCollectionSchema, example=NEARBY_EXAMPLE)
    def get(self, args):
        """Nearest places of any kind (or of `kind`), nearest first.

        Public. Branches, ATMs and partner outlets together, or one `kind` of them.
        """
        return _nearby(args)


@blp.route("/repayment-points/nearby")
class NearbyRepaymentPoints(MethodView):
    @blp.arguments(schemas.REPAYMENT_QUERY, location="query")
    @blp.response(200, schemas.FeatureCollectionSchema, example=NEARBY_EXAMPLE)
    def get(self, args):
        """Nearest places where a credit card can be repaid, with method, fee and cut-off.

        Public. Only places with repayment facts; filter by `method` and `fee_free`.
        """
        return _nearby(args, kinds=(), repayment_only=True)


@blp.route("/places")
class PlacesInBbox(MethodView):
    @blp.arguments(schemas.BboxQuerySchema, location="query")
    @blp.response(200, schemas.FeatureCollectionSchema, example=NEARBY_EXAMPLE)
    def get(self, args):
        """Places inside a bounding box, for a map; ordered by id.

        Public. For drawing a map: no distances; page with `cursor`.
        """
        return service.list_places_in_bbox(db.session, args["bbox"], args["limit"],
                                           args.get("kind"), args.get("cursor"),
                                           _now()).to_geojson()


@blp.route("/places/<place_id>")
class PlaceDetail(MethodView):
    @blp.arguments(schemas.AtQuerySchema, location="query")
    @blp.response(200, schemas.FeatureSchema, example=NEARBY_EXAMPLE["features"][0])
    def get(self, args, place_id):
        """One place with its week of opening hours (the week of `at` when given).

        Public. The place's address, services, accessibility, repayment facts and opening
        hours for the coming week, and whether it is open now (or at `at`).
        """
        return service.get_place(db.session, place_id, args.get("at") or _now())

    @role_required("maintainer", "admin")
    @blp.arguments(schemas.PlaceStatusSchema)
    @blp.response(200, schemas.FeatureSchema)
    @blp.doc(security=[{"bearerAuth": []}])
    def patch(self, args, place_id):
        """Change a place's status (maintainers).

        Maintainers and admins. The change is recorded in the place's history.
        """
        service.set_place_status(db.session, place_id, args["status"], int(get_jwt()["sub"]))
        return service.get_place(db.session, place_id, _now())
