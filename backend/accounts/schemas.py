"""Schemas of the auth and profile endpoints."""

import marshmallow as ma
from marshmallow import fields


class LoginSchema(ma.Schema):
    """E-mail address and password."""

    email = fields.String(required=True, validate=ma.validate.Length(min=3, max=254))
    password = fields.String(required=True, load_only=True,
                             validate=ma.validate.Length(min=1, max=1024))


class TokensSchema(ma.Schema):
    """Tokens issued at login (refresh_token) or refresh (no refresh_token)."""

    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer(metadata={"description": "Seconds the access token lives."})


class MeSchema(ma.Schema):
    """The signed-in user."""

    id = fields.String(attribute="public_id")
    email = fields.String()
    role = fields.String()
    display_name = fields.String(allow_none=True)
    card_tier = fields.String(allow_none=True)


class EraseSchema(ma.Schema):
    """Confirmation for deleting the account: the password, unless the token is fresh."""

    password = fields.String(load_only=True, validate=ma.validate.Length(min=1, max=1024),
                             metadata={"description": "Not needed within a few minutes of a "
                                                      "login."})
