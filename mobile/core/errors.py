"""Typed errors of the API client: what went wrong, never how to show it."""

from __future__ import annotations

from typing import Any

PROMOTIONS_NOT_ENABLED = "/promotions-not-enabled"


class ApiError(Exception):
    """An API call failed; carries the HTTP status and the problem+json fields when known."""

    def __init__(self, detail: str = "", status: int | None = None,
                 problem: dict[str, Any] | None = None) -> None:
        super().__init__(detail or type(self).__name__)
        self.detail = detail
        self.status = status
        self.problem = problem or {}

    @property
    def problem_type(self) -> str:
        """The problem's `type` URI, or '' when the body had none."""
        value = self.problem.get("type")
        return value if isinstance(value, str) else ""


class Offline(ApiError):
    """The backend could not be reached (refused, unresolvable, timed out)."""


class Slow(Offline):
    """The backend was reached, or may be, but did not answer in time (a timeout)."""


class ServerError(ApiError):
    """The backend answered with a 5xx status."""


class AuthRequired(ApiError):
    """No valid session: the refresh token is missing, expired or revoked; sign in again."""


class InvalidCredentials(ApiError):
    """Login refused: wrong e-mail address or password."""


class NotACardholder(ApiError):
    """The account signed in is not a cardholder's; this app is for cardholders only."""


class Forbidden(ApiError):
    """403: signed in, but not allowed to do this."""


class PromotionsNotEnabled(Forbidden):
    """403 from the offers endpoint: the cardholder has not opted in to promotions."""


class NotFound(ApiError):
    """404: no such object."""


class Conflict(ApiError):
    """409: the request conflicts with the current state (e.g. a newer privacy notice)."""


class RateLimited(ApiError):
    """429: this device asked too often lately (place searches, tickets); try again later."""


class InvalidRequest(ApiError):
    """400: the backend rejected the request's fields (see `errors`)."""

    @property
    def errors(self) -> list[dict[str, Any]]:
        """The problem's per-field errors."""
        value = self.problem.get("errors")
        return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []


class MalformedResponse(ApiError):
    """The backend's answer was not what the API promises (not JSON, missing fields)."""
