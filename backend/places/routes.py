"""HTTP views of the places capability."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from flask.views import MethodView
from flask_jwt_extended import get_jwt

from backend.accounts.auth import role_required
from backend.extensions import Blueprint, db
from backend.places import schemas, service
from backend.queues import service as queues
from backend.queues.schemas import BranchNearbyQuerySchema

blp = Blueprint("places", __name__, url_prefix="/api/v1",
                description="Branches, ATMs, partner outlets and where to repay a card.")

# These endpoints carry the cardholder's position in the query string; the access log drops
# query strings on them (see backend/logging_.py).
LOCATION_ENDPOINTS = ("/api/v1/branches/nearby", "/api/v1/atms/nearby",
                      "/api/v1/places/nearby", "/api/v1/repayment-points/nearby")


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


def _nearby(args: dict, **overrides) -> dict:
    query = _nearby_query(args, **overrides)
    return service.find_nearby_places(db.session, query, _now()).to_geojson()


@blp.route("/branches/nearby")
class NearbyBranches(MethodView):
    @blp.arguments(BranchNearbyQuerySchema, location="query")
    @blp.response(200, schemas.FeatureCollectionSchema)
    def get(self, args):
        """Nearest branches with their queues, nearest first or soonest served."""
        return queues.find_branches_nearby(
            db.session, current_app.extensions["queue_store"],
            _nearby_query(args, kinds=("branch",)), _now(), args["order"],
            current_app.config["QUEUE_WALKING_PACE_M_S"]).to_geojson()


@blp.route("/atms/nearby")
class NearbyAtms(MethodView):
    @blp.arguments(schemas.PointQuerySchema, location="query")
    @blp.response(200, schemas.FeatureCollectionSchema)
    def get(self, args):
        """Nearest ATMs and cash-deposit machines, nearest first."""
        return _nearby(args, kinds=("atm",))


@blp.route("/places/nearby")
class NearbyPlaces(MethodView):
    @blp.arguments(schemas.NearbyPlacesQuerySchema, location="query")
    @blp.response(200, schemas.FeatureCollectionSchema)
    def get(self, args):
        """Nearest places of any kind (or of `kind`), nearest first."""
        return _nearby(args)


@blp.route("/repayment-points/nearby")
class NearbyRepaymentPoints(MethodView):
    @blp.arguments(schemas.RepaymentQuerySchema, location="query")
    @blp.response(200, schemas.FeatureCollectionSchema)
    def get(self, args):
        """Nearest places where a credit card can be repaid, with method, fee and cut-off."""
        return _nearby(args, kinds=(), repayment_only=True)


@blp.route("/places")
class PlacesInBbox(MethodView):
    @blp.arguments(schemas.BboxQuerySchema, location="query")
    @blp.response(200, schemas.FeatureCollectionSchema)
    def get(self, args):
        """Places inside a bounding box, for a map; ordered by id."""
        return service.list_places_in_bbox(db.session, args["bbox"], args["limit"],
                                           args.get("kind"), args.get("cursor"),
                                           _now()).to_geojson()


@blp.route("/places/<place_id>")
class PlaceDetail(MethodView):
    @blp.response(200, schemas.FeatureSchema)
    def get(self, place_id):
        """One place with its week of opening hours."""
        return service.get_place(db.session, place_id, _now())

    @role_required("maintainer", "admin")
    @blp.arguments(schemas.PlaceStatusSchema)
    @blp.response(200, schemas.FeatureSchema)
    @blp.doc(security=[{"bearerAuth": []}])
    def patch(self, args, place_id):
        """Change a place's status (maintainers)."""
        service.set_place_status(db.session, place_id, args["status"], int(get_jwt()["sub"]))
        return service.get_place(db.session, place_id, _now())
