"""HTTP views of merchants (self-service), reviewers, and offers near an opted-in cardholder."""

from __future__ import annotations

from datetime import UTC, datetime

from flask.views import MethodView
from flask_jwt_extended import current_user

from backend.accounts.auth import role_required
from backend.apidoc import status_name
from backend.extensions import Blueprint, auth_rate_limit, db, limiter
from backend.geocoding import app_geocoder
from backend.offers import nearby, schemas, service

merchants_blp = Blueprint("merchants", __name__, url_prefix="/api/v1",
                          description="Merchants manage their own stores and offers.")
review_blp = Blueprint("review", __name__, url_prefix="/api/v1/review",
                       description="Reviewers verify merchants and approve or reject offers.")
offers_blp = Blueprint("offers", __name__, url_prefix="/api/v1",
                       description="Offers near a cardholder who turned promotions on and asked.")

# /offers/nearby carries the cardholder's position in its query string, like the places'
# nearby endpoints; gunicorn's access log format records paths without query strings.
_BEARER = [{"bearerAuth": []}]


def _now() -> datetime:
    return datetime.now(UTC)


def _merchant():
    return service.merchant_of_user(db.session, current_user.id)


def _offer(offer, reviewer: bool = False) -> dict:
    return service.offer_json(offer, _now(), for_reviewer=reviewer)


# --- merchants --------------------------------------------------------------------------------

@merchants_blp.route("/merchants")
class MerchantRegistration(MethodView):
    decorators = [limiter.limit(auth_rate_limit)]

    @merchants_blp.arguments(schemas.MerchantRegistrationSchema, example={
        "email": "owner@corner-cafe.example", "password": "a long passphrase",
        "name": "Corner Cafe", "category": "dining"})
    @merchants_blp.response(201, schemas.MerchantSchema)
    @merchants_blp.alt_response(409, description="The e-mail address is taken.")
    @merchants_blp.alt_response(429, response=status_name(429))
    def post(self, args):
        """Register a merchant and its user (role merchant); it starts unverified.

        No token needed; limited per client address like login. A reviewer verifies the
        merchant before any of its offers can be shown.
        """
        return service.merchant_json(service.register_merchant(db.session, args))


@merchants_blp.route("/merchants/me")
class MyMerchant(MethodView):
    @role_required("merchant")
    @merchants_blp.response(200, schemas.MerchantSchema)
    @merchants_blp.doc(security=_BEARER)
    def get(self):
        """Your merchant, with its verification state and the reviewer's reason.

        Merchants only.
        """
        return service.merchant_json(_merchant())

    @role_required("merchant")
    @merchants_blp.arguments(schemas.MerchantUpdateSchema)
    @merchants_blp.response(200, schemas.MerchantSchema)
    @merchants_blp.doc(security=_BEARER)
    def patch(self, args):
        """Change your details or offer cap; a new name is verified again.

        Merchants only. Send only the fields to change.
        """
        return service.merchant_json(service.update_merchant(db.session, _merchant(), args))


@merchants_blp.route("/merchants/me/stores")
class MyStores(MethodView):
    @role_required("merchant")
    @merchants_blp.response(200, schemas.StoreSchema(many=True))
    @merchants_blp.doc(security=_BEARER)
    def get(self):
        """Your stores.

        Merchants only. Every store of your merchant, by creation.
        """
        return [service.store_json(s) for s in service.list_stores(db.session, _merchant())]

    @role_required("merchant")
    @merchants_blp.arguments(schemas.StoreCreateSchema)
    @merchants_blp.response(201, schemas.StoreSchema)
    @merchants_blp.alt_response(503, description="The address cannot be geocoded now.")
    @merchants_blp.doc(security=_BEARER)
    def post(self, args):
        """Add a store at a point, or at its address geocoded.

        Merchants only. Without `location` the street or postcode is geocoded; 503 when the
        geocoder cannot be reached.
        """
        geocoder = None if args.get("location") else app_geocoder()
        return service.store_json(service.create_store(db.session, _merchant(), args, geocoder))


@merchants_blp.route("/merchants/me/stores/<store_id>")
class MyStore(MethodView):
    @role_required("merchant")
    @merchants_blp.response(200, schemas.StoreSchema)
    @merchants_blp.doc(security=_BEARER)
    def get(self, store_id):
        """One of your stores.

        Merchants only. Another merchant's store is a 404.
        """
        return service.store_json(service.get_store(db.session, _merchant(), store_id))

    @role_required("merchant")
    @merchants_blp.arguments(schemas.StoreUpdateSchema)
    @merchants_blp.response(200, schemas.StoreSchema)
    @merchants_blp.alt_response(503, description="The address cannot be geocoded now.")
    @merchants_blp.doc(security=_BEARER)
    def patch(self, args, store_id):
        """Change a store; a new address without a location is geocoded again.

        Merchants only. Send only the fields to change.
        """
        geocoder = None if args.get("location") else app_geocoder()
        return service.store_json(service.update_store(db.session, _merchant(), store_id, args,
                                                       geocoder))

    @role_required("merchant")
    @merchants_blp.response(204)
    @merchants_blp.alt_response(409, description="The only store of an offer.")
    @merchants_blp.doc(security=_BEARER)
    def delete(self, store_id):
        """Delete a store (not the only store of an offer that is not withdrawn).

        Merchants only. Answers 204.
        """
        service.delete_store(db.session, _merchant(), store_id)


@merchants_blp.route("/merchants/me/offers")
class MyOffers(MethodView):
    @role_required("merchant")
    @merchants_blp.arguments(schemas.OfferListQuerySchema, location="query")
    @merchants_blp.response(200, schemas.OfferSchema(many=True))
    @merchants_blp.doc(security=_BEARER)
    def get(self, args):
        """Your offers, every status, by id.

        Merchants only. Optionally only those of one `status`.
        """
        return [_offer(o) for o in service.list_offers(db.session, _merchant(),
                                                       args.get("status"))]

    @role_required("merchant")
    @merchants_blp.arguments(schemas.OfferCreateSchema)
    @merchants_blp.response(201, schemas.OfferSchema)
    @merchants_blp.doc(security=_BEARER)
    def post(self, args):
        """Create an offer; it goes to review (or stays a draft with `submit: false`).

        Merchants only. `store_ids` must be your own stores; the validity window must end
        after it starts.
        """
        return _offer(service.create_offer(db.session, _merchant(), args, _now()))


@merchants_blp.route("/merchants/me/offers/<offer_id>")
class MyOffer(MethodView):
    @role_required("merchant")
    @merchants_blp.response(200, schemas.OfferSchema)
    @merchants_blp.doc(security=_BEARER)
    def get(self, offer_id):
        """One of your offers, with the reviewer's reason if it was rejected.

        Merchants only. Another merchant's offer is a 404.
        """
        return _offer(service.get_offer(db.session, _merchant(), offer_id))

    @role_required("merchant")
    @merchants_blp.arguments(schemas.OfferUpdateSchema)
    @merchants_blp.response(200, schemas.OfferSchema)
    @merchants_blp.alt_response(409, description="The offer is withdrawn.")
    @merchants_blp.doc(security=_BEARER)
    def patch(self, args, offer_id):
        """Change an offer; an approved or rejected offer goes back to review.

        Merchants only. Send only the fields to change; a withdrawn offer cannot change
        (409).
        """
        return _offer(service.update_offer(db.session, _merchant(), offer_id, args, _now()))

    @role_required("merchant")
    @merchants_blp.response(204)
    @merchants_blp.doc(security=_BEARER)
    def delete(self, offer_id):
        """Withdraw an offer: never shown again; kept, with its show counts.

        Merchants only. Answers 204.
        """
        service.withdraw_offer(db.session, _merchant(), offer_id)


@merchants_blp.route("/merchants/me/offers/<offer_id>/submit")
class SubmitMyOffer(MethodView):
    @role_required("merchant")
    @merchants_blp.response(200, schemas.OfferSchema)
    @merchants_blp.alt_response(409, description="The offer is approved or withdrawn.")
    @merchants_blp.doc(security=_BEARER)
    def post(self, offer_id):
        """Send a draft or a rejected offer to review.

        Merchants only. 409 for an approved or withdrawn offer.
        """
        return _offer(service.submit_offer(db.session, _merchant(), offer_id, _now()))


@merchants_blp.route("/merchants/me/offers/<offer_id>/stats")
class MyOfferStats(MethodView):
    @role_required("merchant")
    @merchants_blp.arguments(schemas.StatsQuerySchema, location="query")
    @merchants_blp.response(200, schemas.StatsSchema)
    @merchants_blp.doc(security=_BEARER)
    def get(self, args, offer_id):
        """Cardholders the offer reached per ended UTC day, with differential-privacy noise.

        Each day's value is the number of distinct cardholders shown the offer plus noise from
        the two-sided geometric mechanism (epsilon per offer per day in `privacy`), drawn once
        and stored: asking again returns the same value. Nothing about who or where.
        Merchants only, for their own offers.
        """
        return service.offer_stats(db.session, _merchant(), offer_id, _now().date(),
                                   args.get("from_"), args.get("to"))


# --- review -----------------------------------------------------------------------------------

@review_blp.route("/offers")
class OffersToReview(MethodView):
    @role_required("reviewer", "admin")
    @review_blp.arguments(schemas.ReviewOfferQuerySchema, location="query")
    @review_blp.response(200, schemas.ReviewListSchema)
    @review_blp.doc(security=_BEARER)
    def get(self, args):
        """Offers of a status (default pending), oldest first, with merchant and stores.

        Reviewers and admins. Page with `cursor`.
        """
        return service.offers_for_review(db.session, args["status"], args["limit"],
                                         args.get("cursor"), _now())


@review_blp.route("/offers/<offer_id>")
class OfferToReview(MethodView):
    @role_required("reviewer", "admin")
    @review_blp.response(200, schemas.OfferSchema)
    @review_blp.doc(security=_BEARER)
    def get(self, offer_id):
        """Any offer, with its merchant and stores.

        Reviewers and admins. Note its `version`: approval names it.
        """
        return _offer(service.offer_for_review(db.session, offer_id), reviewer=True)


@review_blp.route("/offers/<offer_id>/approve")
class ApproveOffer(MethodView):
    @role_required("reviewer", "admin")
    @review_blp.arguments(schemas.ApprovalSchema)
    @review_blp.response(200, schemas.OfferSchema)
    @review_blp.alt_response(409, description="Not pending review, or changed since loaded.")
    @review_blp.doc(security=_BEARER)
    def post(self, args, offer_id):
        """Approve a pending offer as the reviewer saw it.

        Reviewers and admins. `seen_version` must be the offer's current version, otherwise
        409 (it changed since it was loaded).
        """
        offer = service.approve_offer(db.session, offer_id, current_user.id, _now(),
                                      args["seen_version"])
        return _offer(offer, reviewer=True)


@review_blp.route("/offers/<offer_id>/reject")
class RejectOffer(MethodView):
    @role_required("reviewer", "admin")
    @review_blp.arguments(schemas.RejectionSchema)
    @review_blp.response(200, schemas.OfferSchema)
    @review_blp.alt_response(409, description="The offer is neither pending nor approved.")
    @review_blp.doc(security=_BEARER)
    def post(self, args, offer_id):
        """Reject a pending offer, or pull an approved one, with a reason the merchant sees.

        Reviewers and admins.
        """
        offer = service.reject_offer(db.session, offer_id, current_user.id, args["reason"],
                                     _now())
        return _offer(offer, reviewer=True)


@review_blp.route("/merchants")
class MerchantsToReview(MethodView):
    @role_required("reviewer", "admin")
    @review_blp.arguments(schemas.ReviewMerchantQuerySchema, location="query")
    @review_blp.response(200, schemas.ReviewListSchema)
    @review_blp.doc(security=_BEARER)
    def get(self, args):
        """Merchants of a verification status (default unverified), oldest first.

        Reviewers and admins. Page with `cursor`.
        """
        return service.merchants_for_review(db.session, args["status"], args["limit"],
                                            args.get("cursor"))


@review_blp.route("/merchants/<merchant_id>")
class MerchantToReview(MethodView):
    @role_required("reviewer", "admin")
    @review_blp.response(200, schemas.MerchantSchema)
    @review_blp.doc(security=_BEARER)
    def get(self, merchant_id):
        """Any merchant.

        Reviewers and admins. Note its `version`: verification names it.
        """
        return service.merchant_json(service.merchant_for_review(db.session, merchant_id))


@review_blp.route("/merchants/<merchant_id>/verify")
class VerifyMerchant(MethodView):
    @role_required("reviewer", "admin")
    @review_blp.arguments(schemas.ApprovalSchema)
    @review_blp.response(200, schemas.MerchantSchema)
    @review_blp.alt_response(409, description="Verified already, or changed since loaded.")
    @review_blp.doc(security=_BEARER)
    def post(self, args, merchant_id):
        """Verify a merchant as the reviewer saw it: its approved offers can be shown.

        Reviewers and admins. `seen_version` must be the merchant's current version,
        otherwise 409.
        """
        merchant = service.verify_merchant(db.session, merchant_id, current_user.id, _now(),
                                           args["seen_version"])
        return service.merchant_json(merchant)


@review_blp.route("/merchants/<merchant_id>/reject")
class RejectMerchant(MethodView):
    @role_required("reviewer", "admin")
    @review_blp.arguments(schemas.RejectionSchema)
    @review_blp.response(200, schemas.MerchantSchema)
    @review_blp.alt_response(409, description="Rejected already.")
    @review_blp.doc(security=_BEARER)
    def post(self, args, merchant_id):
        """Refuse or revoke a merchant's verification, with a reason it sees.

        Reviewers and admins.
        """
        merchant = service.reject_merchant(db.session, merchant_id, current_user.id,
                                           args["reason"], _now())
        return service.merchant_json(merchant)


# --- offers near me ---------------------------------------------------------------------------

@offers_blp.route("/offers/nearby")
class OffersNearby(MethodView):
    @role_required("cardholder")
    @offers_blp.arguments(schemas.NearbyOffersQuerySchema, location="query")
    @offers_blp.response(200, schemas.OfferFeatureCollectionSchema)
    @offers_blp.alt_response(403, description="Promotions are not enabled "
                                              "(type .../promotions-not-enabled).")
    @offers_blp.doc(security=_BEARER)
    def get(self, args):
        """Offers near you, nearest first, each saying why; only if you turned promotions on.

        Cardholders only, with promotions enabled (otherwise 403 of type `.../promotions-
        not-enabled`). Only approved offers of verified merchants, in the categories you
        chose, for your card tier. The position is used for this answer only.
        """
        query = nearby.OffersNearbyQuery(lat=args["lat"], lon=args["lon"],
                                         radius_m=args["radius_m"],
                                         categories=args.get("category"))
        return nearby.find_offers_nearby(db.session, current_user.id, current_user.card_tier,
                                         query, _now())
