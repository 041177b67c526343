"""HTTP views of branch queues: queue systems' feed, branch queues, cardholders' tickets."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from flask.views import MethodView
from flask_jwt_extended import get_jwt

from backend.accounts.auth import role_required
from backend.apidoc import status_name
from backend.extensions import Blueprint, db
from backend.queues import schemas, service
from backend.queues.store import QueueStore

blp = Blueprint("queues", __name__, url_prefix="/api/v1",
                description="Live branch queues, the feed of queue systems, remote tickets.")


def _now() -> datetime:
    return datetime.now(UTC)


def _store() -> QueueStore:
    return current_app.extensions["queue_store"]


def _user_id() -> int:
    return int(get_jwt()["sub"])


def _ingest(reports: list[dict], tickets_after: int | None) -> dict:
    result = service.ingest_reports(db.session, _store(), _user_id(), reports, _now(),
                                    current_app.config["QUEUE_LIVE_TTL_SECONDS"])
    answer = result.to_json()
    if tickets_after is not None:
        answer.update(service.ticket_changes(db.session, _user_id(), tickets_after, 1000, _now(),
                                             [r["branch_id"] for r in reports]))
    return answer


@blp.route("/branches/<branch_id>/queue")
class BranchQueue(MethodView):
    @blp.arguments(schemas.LineQuerySchema, location="query")
    @blp.response(200, schemas.BranchQueueSchema)
    def get(self, args, branch_id):
        """A branch's queue: every line, live or typical, or unknown.

        Public. Each line's estimated wait in minutes, how many wait, `as_of` and `source`
        (`live`, `typical` for this hour of the week, or `unknown`).
        """
        return service.branch_queue(db.session, _store(), branch_id, _now(), args["line"])

    @role_required("queue_system")
    @blp.arguments(schemas.QueueReportSchema)
    @blp.response(200, schemas.ReportResultSchema)
    @blp.doc(security=[{"bearerAuth": []}])
    def put(self, report, branch_id):
        """Report a branch's queue (queue systems bound to the branch).

        Queue systems only. A report not newer than the one held is ignored; the answer can
        carry the branch's ticket changes after `tickets_after`.
        """
        tickets_after = report.pop("tickets_after", None)
        return _ingest([{**report, "branch_id": branch_id}], tickets_after)


@blp.route("/queue-reports")
class BulkQueueReports(MethodView):
    @role_required("queue_system")
    @blp.arguments(schemas.BulkReportSchema)
    @blp.response(200, schemas.ReportResultSchema)
    @blp.doc(security=[{"bearerAuth": []}])
    def post(self, body):
        """Report many branches' queues at once (up to 1,000 lines).

        Queue systems only. Every branch must be bound to the caller, or nothing is stored.
        """
        return _ingest(body["reports"], body.get("tickets_after"))


@blp.route("/queue-system/tickets")
class TicketChanges(MethodView):
    @role_required("queue_system")
    @blp.arguments(schemas.TicketChangesQuerySchema, location="query")
    @blp.response(200, schemas.TicketChangesSchema)
    @blp.doc(security=[{"bearerAuth": []}])
    def get(self, args):
        """New, cancelled and lapsed tickets of the caller's branches, after a change number.

        Queue systems only. Page with `after` = the previous answer's `next_after`.
        """
        return service.ticket_changes(db.session, _user_id(), args["after"], args["limit"],
                                      _now())


@blp.route("/branches/<branch_id>/tickets")
class BranchTickets(MethodView):
    @role_required("cardholder")
    @blp.arguments(schemas.TicketRequestSchema)
    @blp.response(201, schemas.TicketSchema)
    @blp.alt_response(409, description="A ticket is held already (`ticket_id` names it), or "
                      "the branch takes no remote tickets.")
    @blp.alt_response(429, response=status_name(429))
    @blp.doc(security=[{"bearerAuth": []}])
    def post(self, args, branch_id):
        """Take a remote ticket for a line (one active ticket per cardholder).

        Cardholders only, a few an hour. No position is sent or stored; the ticket lapses
        unless checked in at the branch in time.
        """
        config = current_app.config
        return service.take_ticket(db.session, _store(), _user_id(), branch_id, args["line"],
                                   _now(), config["QUEUE_TICKET_CHECK_IN_MINUTES"],
                                   config["QUEUE_TICKETS_PER_HOUR"])


@blp.route("/me/tickets")
class MyTickets(MethodView):
    @role_required("cardholder")
    @blp.response(200, schemas.TicketListSchema)
    @blp.doc(security=[{"bearerAuth": []}])
    def get(self):
        """My tickets of the last day with number, position and estimate, newest first.

        Cardholders only.
        """
        return {"tickets": service.my_tickets(db.session, _store(), _user_id(), _now())}


@blp.route("/me/tickets/<ticket_id>")
class MyTicket(MethodView):
    @role_required("cardholder")
    @blp.response(200, schemas.TicketSchema)
    @blp.alt_response(409, description="The ticket is over (served, cancelled or lapsed).")
    @blp.doc(security=[{"bearerAuth": []}])
    def delete(self, ticket_id):
        """Cancel my ticket.

        Cardholders only, for their own active tickets.
        """
        return service.cancel_ticket(db.session, _store(), _user_id(), ticket_id, _now())
