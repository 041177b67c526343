"""HTTP views of the maintainers' upload workflow."""

from __future__ import annotations

from flask import Response, stream_with_context
from flask.views import MethodView
from flask_jwt_extended import get_jwt

from backend.accounts.auth import role_required
from backend.extensions import Blueprint, db
from backend.geocoding import app_geocoder
from backend.paging import AfterId, decode_cursor, encode_cursor, split_page
from backend.places.history import history_of
from backend.places.service import find_place_key
from backend.uploads import schemas, service

blp = Blueprint("uploads", __name__, url_prefix="/api/v1",
                description="Bulk uploads of places: dry run, apply, roll back.")
MAINTAINERS = ("maintainer", "admin")
_BEARER = [{"bearerAuth": []}]


def _actor() -> int:
    return int(get_jwt()["sub"])


@blp.route("/uploads")
class Uploads(MethodView):
    @role_required(*MAINTAINERS)
    @blp.arguments(schemas.UploadSchema, location="multipart")
    @blp.response(201, schemas.BatchSchema)
    @blp.doc(security=_BEARER)
    def post(self, form):
        """Dry run: parse, validate and diff a file; nothing visible changes yet.

        Maintainers and admins. A multipart/form-data body with the file and its `source`;
        the answer is the pending batch's report (counts, first issues and changes). Apply
        it next.
        """
        upload = form["file"]
        batch = service.submit_upload(
            db.session, upload.stream, upload.filename or "upload", form["source"],
            form["mode"], actor_id=_actor(), via="api", file_format=form.get("format"),
            geocoder=app_geocoder(), columns=form.get("columns"),
            defaults=form.get("defaults"))
        return service.batch_report(db.session, batch)

    @role_required(*MAINTAINERS)
    @blp.arguments(schemas.ListQuerySchema, location="query")
    @blp.response(200, schemas.BatchListSchema)
    @blp.doc(security=_BEARER)
    def get(self, args):
        """Uploads, newest first.

        Maintainers and admins. Page with `cursor`.
        """
        before = decode_cursor(args["cursor"], AfterId).i if args.get("cursor") else None
        page, more = split_page(service.list_batches(db.session, args["limit"] + 1, before),
                                args["limit"])
        return {"items": [service.batch_summary(b) for b in page],
                "next_cursor": encode_cursor(AfterId(page[-1].id)) if more else None}


@blp.route("/uploads/<batch_id>")
class UploadDetail(MethodView):
    @role_required(*MAINTAINERS)
    @blp.response(200, schemas.BatchSchema)
    @blp.doc(security=_BEARER)
    def get(self, batch_id):
        """One upload's report.

        Maintainers and admins.
        """
        return service.batch_report(db.session, service.get_batch(db.session, batch_id))


@blp.route("/uploads/<batch_id>/apply")
class ApplyUpload(MethodView):
    @role_required(*MAINTAINERS)
    @blp.response(200, schemas.BatchSchema)
    @blp.alt_response(409, description="Not pending, or the data changed since the dry run.")
    @blp.doc(security=_BEARER)
    def post(self, batch_id):
        """Apply a pending upload, all or nothing.

        Maintainers and admins. 409 when the batch is not pending or the data changed since
        its dry run.
        """
        batch = service.get_batch(db.session, batch_id)
        service.apply_upload(db.session, batch, actor_id=_actor(), via="api")
        return service.batch_report(db.session, batch)


@blp.route("/uploads/<batch_id>/rollback")
class RollbackUpload(MethodView):
    @role_required(*MAINTAINERS)
    @blp.response(200, schemas.BatchSchema)
    @blp.alt_response(409, description="Not applied, or places it touched changed since.")
    @blp.doc(security=_BEARER)
    def post(self, batch_id):
        """Restore every place an applied upload touched to its state before.

        Maintainers and admins. 409 when the batch is not applied or a place it touched
        changed since.
        """
        batch = service.get_batch(db.session, batch_id)
        service.rollback_upload(db.session, batch, actor_id=_actor(), via="api")
        return service.batch_report(db.session, batch)


@blp.route("/uploads/<batch_id>/report.csv")
class UploadReportCsv(MethodView):
    @role_required(*MAINTAINERS)
    @blp.response(200, content_type="text/csv")
    @blp.doc(security=_BEARER)
    def get(self, batch_id):
        """The rejected and warned records as CSV, ready to fix and upload again.

        Maintainers and admins. `text/csv`, as an attachment.
        """
        batch = service.get_batch(db.session, batch_id)
        body = stream_with_context(service.report_csv(db.session, batch))
        return Response(body, mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="upload-{batch.public_id}-report.csv"'})


@blp.route("/places/<place_id>/history")
class PlaceHistory(MethodView):
    @role_required(*MAINTAINERS)
    @blp.response(200)
    @blp.doc(security=_BEARER)
    def get(self, place_id):
        """Every change of a place: which upload or person, which fields, before and after.

        Maintainers and admins. Oldest first.
        """
        return {"items": history_of(db.session, find_place_key(db.session, place_id))}
