"""Schemas of the uploads API."""

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import fields, validate

from backend.uploads.parsers import FORMATS
from backend.uploads.service import MODES


class UploadSchema(ma.Schema):
    """A multipart/form-data upload: the file and the fields that say what it is."""

    file = Upload(required=True, metadata={"description": "CSV, GeoJSON or Open Banking JSON."})
    source = fields.String(required=True, metadata={
        "description": "The data source the file describes, e.g. `ob-nearbank-atms`."})
    mode = fields.String(load_default="merge", validate=validate.OneOf(MODES), metadata={
        "description": "`merge`: insert and update only; `sync`: the file is the whole "
                       "truth for the source, places missing from it are decommissioned."})
    format = fields.String(validate=validate.OneOf(FORMATS), metadata={
        "description": "Detected from the content when not given; `mapped-csv` when "
                       "`columns` is given."})
    columns = fields.String(metadata={
        "description": "A JSON object from our field names to the CSV's headers, e.g. "
                       '`{"external_id": "ID", "name": "Name", "lat": "Latitude", '
                       '"lon": "Longitude", "locality": "City", "postcode": "Postal_Code"}`: '
                       "reads any CSV."})
    defaults = fields.String(metadata={
        "description": "A JSON object of values for fields the records leave empty, e.g. "
                       '`{"kind": "branch"}`.'})


class ListQuerySchema(ma.Schema):
    """Paging of the upload list."""

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200),
                           metadata={"description": "At most this many uploads in one page."})
    cursor = fields.String(metadata={"description": "`next_cursor` of the previous page."})


class BatchSchema(ma.Schema):
    """An upload batch: state, counts, first issues and changes."""

    id = fields.String()
    source = fields.String()
    mode = fields.String()
    filename = fields.String()
    format = fields.String()
    status = fields.String(metadata={"description": "pending, applied, rolled_back"})
    created_at = fields.String()
    applied_at = fields.String(allow_none=True)
    rolled_back_at = fields.String(allow_none=True)
    summary = fields.Dict()
    issues = fields.List(fields.Dict())
    issues_truncated = fields.Boolean()
    changes = fields.List(fields.Dict())
    changes_truncated = fields.Boolean()


class BatchListSchema(ma.Schema):
    """A page of batches."""

    items = fields.List(fields.Nested(BatchSchema))
    next_cursor = fields.String(allow_none=True)
