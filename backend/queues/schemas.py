"""Request and response schemas of the queues API (validation and OpenAPI)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from backend.places.schemas import PointQuerySchema
from backend.queues.models import LINES

MAX_BULK_LINES = 1000
MAX_WAITING = 10_000
MAX_DESKS = 200
MAX_SERVICE_S = 4 * 3600


class LineReportSchema(ma.Schema):
    """The state of one service line right now."""

    line = fields.String(required=True, validate=validate.OneOf(LINES), metadata={
        "description": "counter, cash, advisor, or priority (the accessible counter)."})
    waiting = fields.Integer(required=True, strict=True,
                             validate=validate.Range(min=0, max=MAX_WAITING),
                             metadata={"description": "People waiting, not yet at a desk."})
    open_desks = fields.Integer(required=True, strict=True,
                                validate=validate.Range(min=0, max=MAX_DESKS))
    serving = fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_DESKS),
                             metadata={"description": "Customers at a desk now (optional; "
                                                      "sharpens the estimate)."})
    mean_service_s = fields.Float(
        required=True, allow_nan=False,
        validate=validate.Range(min=1, max=MAX_SERVICE_S),
        metadata={"description": "Recent mean time a desk takes per customer, seconds."})
    as_of = fields.AwareDateTime(metadata={
        "description": "When this line was measured (defaults to the report's as_of)."})


class TicketReportSchema(ma.Schema):
    """What the queue system says about a remote ticket."""

    id = fields.UUID(required=True)
    status = fields.String(required=True,
                           validate=validate.OneOf(
                               ("waiting", "checked_in", "called", "served", "lapsed")),
                           metadata={"description": "waiting (with ahead) until checked in, "
                                                    "called or served; lapsed for a no-show."})
    ahead = fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_WAITING),
                           metadata={"description": "People ahead of the ticket in its line."})


class QueueReportSchema(ma.Schema):
    """One branch's queue right now (PUT /branches/{id}/queue)."""

    as_of = fields.AwareDateTime(required=True, metadata={
        "description": "When the state was measured, ISO 8601 with offset."})
    lines = fields.List(fields.Nested(LineReportSchema), required=True,
                        validate=validate.Length(min=1, max=len(LINES)))
    tickets = fields.List(fields.Nested(TicketReportSchema), load_default=list,
                          validate=validate.Length(max=MAX_BULK_LINES))
    tickets_after = fields.Integer(validate=validate.Range(min=0), metadata={
        "description": "Answer with this branch's ticket changes after this change number."})

    @ma.validates_schema
    def _one_report_per_line(self, data, **kwargs) -> None:
        names = [line["line"] for line in data.get("lines", [])]
        if len(names) != len(set(names)):
            raise ma.ValidationError("Each line at most once per report.", "lines")


class BulkReportItemSchema(QueueReportSchema):
    branch_id = fields.String(required=True, validate=validate.Length(max=64))


class BulkReportSchema(ma.Schema):
    """Many branches' queues from one system, up to 1,000 lines in all."""

    reports = fields.List(fields.Nested(BulkReportItemSchema), required=True,
                          validate=validate.Length(min=1, max=MAX_BULK_LINES))
    tickets_after = fields.Integer(validate=validate.Range(min=0), metadata={
        "description": "Answer with ticket changes of these branches after this number."})

    @ma.validates_schema
    def _at_most_1000_lines(self, data, **kwargs) -> None:
        total = sum(len(r["lines"]) for r in data.get("reports", []))
        if total > MAX_BULK_LINES:
            raise ma.ValidationError(f"At most {MAX_BULK_LINES} lines a request ({total}).",
                                     "reports")
        ids = [r["branch_id"] for r in data.get("reports", [])]
        if len(ids) != len(set(ids)):
            raise ma.ValidationError("Each branch at most once per request.", "reports")


class ReportResultSchema(ma.Schema):
    accepted = fields.Integer()
    ignored_older = fields.Integer()
    expired_on_arrival = fields.Integer()
    tickets_updated = fields.Integer()
    tickets_ignored = fields.Integer()
    tickets = fields.List(fields.Dict())
    next_after = fields.Integer()
    more = fields.Boolean()


class TicketChangesQuerySchema(ma.Schema):
    after = fields.Integer(load_default=0, validate=validate.Range(min=0), metadata={
        "description": "`next_after` of the previous answer (0 the first time)."})
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=1000),
                           metadata={"description": "Changes per answer, at most 1000."})


class TicketChangesSchema(ma.Schema):
    tickets = fields.List(fields.Dict())
    next_after = fields.Integer()
    more = fields.Boolean()


class BranchNearbyQuerySchema(PointQuerySchema):
    """Nearest branches, with their queues; optionally the ones that serve soonest."""

    order = fields.String(load_default="nearest",
                          validate=validate.OneOf(("nearest", "soonest_served")), metadata={
                              "description": "nearest (default), or soonest_served: walking "
                                             "time plus the line's estimated wait."})
    line = fields.String(load_default="counter", validate=validate.OneOf(LINES), metadata={
        "description": "The line that max_wait_min and soonest_served look at."})
    max_wait_min = fields.Float(allow_nan=False, validate=validate.Range(min=0, max=24 * 60),
                                metadata={"description": "Only branches whose line's wait is "
                                                         "known and at most this."})


class LineQuerySchema(ma.Schema):
    """Which service line's wait to headline."""

    line = fields.String(load_default="counter", validate=validate.OneOf(LINES), metadata={
        "description": "The line whose wait `estimated_wait_min` gives: " + ", ".join(LINES)})


class BranchQueueSchema(ma.Schema):
    branch_id = fields.String()
    line = fields.String()
    estimated_wait_min = fields.Integer(allow_none=True)
    source = fields.String(metadata={"description": "live, typical or unknown"})
    as_of = fields.String(allow_none=True)
    lines = fields.List(fields.Dict())
    takes_tickets = fields.Boolean()


class TicketRequestSchema(ma.Schema):
    line = fields.String(load_default="counter", validate=validate.OneOf(LINES))


class TicketSchema(ma.Schema):
    id = fields.String()
    label = fields.String(metadata={"example": "C017"})
    number = fields.Integer()
    line = fields.String()
    status = fields.String(metadata={
        "description": "waiting, checked_in, called, served, cancelled or lapsed"})
    branch = fields.Dict()
    position = fields.Integer(allow_none=True, metadata={
        "description": "1 = next; known once the queue system has placed the ticket."})
    estimated_wait_min = fields.Integer(allow_none=True)
    estimate_source = fields.String(allow_none=True)
    created_at = fields.String()
    check_in_by = fields.String(metadata={
        "description": "Check in at the branch by then or the ticket lapses."})
    updated_at = fields.String()


class TicketListSchema(ma.Schema):
    tickets = fields.List(fields.Nested(TicketSchema))


# Built once: webargs would build (and deep-copy the fields of) a schema class per request.
BRANCH_NEARBY_QUERY = BranchNearbyQuerySchema()
