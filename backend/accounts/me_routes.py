"""The signed-in cardholder's own data: consent to promotions, its history, export, forgetting."""

from __future__ import annotations

from datetime import UTC, datetime

import marshmallow as ma
from flask.views import MethodView
from flask_jwt_extended import current_user, jwt_required
from marshmallow import fields, validate

from backend import vocab
from backend.accounts import consent
from backend.accounts.auth import role_required
from backend.extensions import Blueprint, db
from backend.privacy import notices

blp = Blueprint("me", __name__, url_prefix="/api/v1",
                description="A cardholder's consent to promotions and their data.")
_BEARER = [{"bearerAuth": []}]


class ConsentInputSchema(ma.Schema):
    """The cardholder's whole choice; what is left out takes its default (a full replacement)."""

    promotions_enabled = fields.Boolean(required=True)
    categories = fields.List(
        fields.String(validate=validate.OneOf(vocab.OFFER_CATEGORIES)), load_default=list,
        validate=validate.Length(max=len(vocab.OFFER_CATEGORIES)),
        metadata={"description": "Offer categories wanted: " + ", ".join(vocab.OFFER_CATEGORIES)})
    max_offers = fields.Integer(
        load_default=consent.DEFAULT_MAX_OFFERS,
        validate=validate.Range(min=1, max=consent.MAX_OFFERS_LIMIT),
        metadata={"description": "At most this many offers per request."})
    channel = fields.String(load_default="api", validate=validate.OneOf(consent.CHANNELS),
                            metadata={"description": "Where the cardholder made the choice."})
    # Not checked here beyond a sane length: a withdrawal is never refused for its version.
    policy_version = fields.String(
        validate=validate.Length(max=1024),
        metadata={"description": "The version of the promotions notice the cardholder was shown "
                                 "(GET /api/v1/privacy/notices/promotions). Required when "
                                 "promotions_enabled is true (422 without it, 409 when it is "
                                 "not the current one); optional for a withdrawal, which is "
                                 "never refused."})


class ConsentSchema(ma.Schema):
    """The current choice."""

    promotions_enabled = fields.Boolean()
    categories = fields.List(fields.String())
    max_offers = fields.Integer()
    policy_version = fields.String(allow_none=True)
    current_policy_version = fields.String()
    updated_at = fields.String(allow_none=True)
    available_categories = fields.List(fields.String(), metadata={
        "description": "Every category a cardholder can choose."})


class ConsentEventSchema(ma.Schema):
    """One ledger entry."""

    action = fields.String(metadata={"description": "granted, changed or withdrawn"})
    recorded_at = fields.String()
    promotions_enabled = fields.Boolean()
    categories = fields.List(fields.String())
    max_offers = fields.Integer()
    policy_version = fields.String(allow_none=True, metadata={
        "description": "The notice version agreed to; null on a withdrawal that named none."})
    channel = fields.String()


class ConsentHistorySchema(ma.Schema):
    """The consent ledger, oldest first."""

    items = fields.List(fields.Nested(ConsentEventSchema))


class DataExportSchema(ma.Schema):
    """Everything this service holds about the user."""

    account = fields.Dict()
    consent = fields.Nested(ConsentSchema)
    consent_history = fields.List(fields.Nested(ConsentEventSchema))
    ended_login_sessions = fields.List(fields.Dict())
    offer_activity = fields.List(fields.Dict())
    not_kept = fields.List(fields.String())


def _current_version() -> str:
    return notices.current_version(db.session, notices.PROMOTIONS, datetime.now(UTC).date())


@blp.route("/me/consent")
class MyConsent(MethodView):
    @role_required("cardholder")
    @blp.response(200, ConsentSchema)
    @blp.doc(security=_BEARER)
    def get(self):
        """Whether promotions are on, for which categories and how many offers at most.

        Cardholders only. Also says which promotions notice is current and which categories
        exist.
        """
        return consent.get_consent(db.session, current_user.id).to_json(_current_version())

    @role_required("cardholder")
    @blp.arguments(ConsentInputSchema)
    @blp.response(200, ConsentSchema)
    @blp.alt_response(409, description="The app showed an older promotions notice; the body "
                                       "carries `current_policy_version`.")
    @blp.alt_response(422, description="Promotions turned on without naming the notice version "
                                       "shown (`policy_version`), or naming one never published.")
    @blp.doc(security=_BEARER)
    def put(self, args):
        """Turn promotions on or off (one call withdraws), choose categories and the maximum.

        Cardholders only. The body is the whole choice: what it leaves out takes its
        default. Turning promotions on or changing categories must name the notice version
        shown (`policy_version`); a withdrawal is never refused. Every call is recorded in the
        consent ledger with the notice version named and the channel.
        """
        state = consent.set_consent(db.session, current_user.id, now=datetime.now(UTC), **args)
        return state.to_json(_current_version())


@blp.route("/me/consent/history")
class MyConsentHistory(MethodView):
    @role_required("cardholder")
    @blp.response(200, ConsentHistorySchema)
    @blp.doc(security=_BEARER)
    def get(self):
        """Every grant, change and withdrawal, with its time, policy version and channel.

        Cardholders only. The append-only consent ledger, oldest first.
        """
        return {"items": consent.consent_history(db.session, current_user.id)}


@blp.route("/me/data")
class MyData(MethodView):
    @jwt_required()
    @blp.response(200, DataExportSchema)
    @blp.doc(security=_BEARER)
    def get(self):
        """Export what the bank holds about you in this service.

        Any role. The account, the consent and its ledger, ended login sessions, and the
        list of what is deliberately not kept.
        """
        return consent.export_user_data(db.session, current_user)


@blp.route("/me/offer-activity")
class MyOfferActivity(MethodView):
    @role_required("cardholder")
    @blp.response(204)
    @blp.doc(security=_BEARER)
    def delete(self):
        """Forget any per-user offer state (the service keeps none: nothing links you to offers).

        Cardholders only. Answers 204; nothing about which offers you were shown is stored.
        """
        consent.forget_offer_activity(db.session, current_user.id)
