"""The privacy notices a client shows before asking for consent, current and by version."""

from __future__ import annotations

from datetime import UTC, datetime

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields

from backend.extensions import Blueprint, db
from backend.privacy import notices

blp = Blueprint("privacy", __name__, url_prefix="/api/v1",
                description="Privacy notices, in English and Simplified Chinese, by version.")


class NoticeTextSchema(ma.Schema):
    """A notice in one language."""

    title = fields.String()
    body = fields.String(metadata={"description": "Plain text; paragraphs are separated by a "
                                                  "blank line."})


class NoticeSchema(ma.Schema):
    """One version of a notice. Send `version` as `policy_version` with the answer."""

    topic = fields.String(metadata={"example": "promotions"})
    version = fields.String(metadata={"example": "2026-11"})
    published_on = fields.String(metadata={"description": "ISO date the version took effect."})
    current = fields.Boolean(metadata={"description": "Whether this is the version in force."})
    current_version = fields.String(metadata={"description": "The version in force now."})
    languages = fields.List(fields.String(), metadata={"example": list(notices.LANGUAGES)})
    texts = fields.Dict(keys=fields.String(), values=fields.Nested(NoticeTextSchema), metadata={
        "description": "Per language tag (`en`, `zh-Hans`): `{title, body}`."})


def _today():
    return datetime.now(UTC).date()


@blp.route("/privacy/notices/promotions")
class CurrentPromotionsNotice(MethodView):
    @blp.response(200, NoticeSchema)
    def get(self):
        """The promotions notice in force: show it, then send its version with the choice.

        No token needed. `texts` holds the notice in English (`en`) and Simplified Chinese
        (`zh-Hans`); send `version` as `policy_version` when turning promotions on or
        changing categories.
        """
        current = notices.current_notice(db.session, notices.PROMOTIONS, _today())
        return notices.notice_json(current, current.version)


@blp.route("/privacy/notices/promotions/<string:version>")
class PromotionsNoticeVersion(MethodView):
    @blp.response(200, NoticeSchema)
    @blp.alt_response(404, description="No notice has this version.")
    def get(self, version):
        """One version of the promotions notice, current or earlier (what someone agreed to).

        No token needed. `current` says whether it is the version in force, and
        `current_version` names the one that is.
        """
        return notices.get_notice(db.session, notices.PROMOTIONS, version, _today())
