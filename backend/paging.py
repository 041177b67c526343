"""The one page cursor of every listing: opaque to clients, typed and validated when it returns.

A cursor is URL-safe base64 of a small JSON object. Each listing declares what its cursor holds
as a frozen dataclass; `decode_cursor` accepts a cursor only when it is exactly such an object:
the same keys, each value of the declared type (a JSON boolean is not an int, NaN and infinity
are not floats), ids within PostgreSQL's bigint. Anything else is one 400 "invalid cursor"
naming the `cursor` field, before any SQL sees it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
import re
from typing import Any, TypeVar, get_type_hints

from backend.errors import BadRequest, field_error

MAX_CURSOR_CHARS = 256
BIGINT_MAX = 2**63 - 1
_FINGERPRINT = re.compile(r"[0-9a-f]{1,32}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")

Cursor = TypeVar("Cursor")


@dataclasses.dataclass(frozen=True)
class AfterId:
    """Lists ordered by id (ascending or descending): the id of the last item shown."""

    i: int


@dataclasses.dataclass(frozen=True)
class AfterDistance:
    """Nearest-first lists: the last item's distance in metres, its id, and a fingerprint of
    the filters the cursor was made for (never the query point)."""

    d: float
    i: int
    f: str


class InvalidCursor(BadRequest):
    """The cursor was not made by this API for this listing."""

    def __init__(self, message: str = "Malformed cursor.") -> None:
        super().__init__("The cursor is not valid.", [field_error("cursor", message, "query")])


def encode_cursor(cursor: Any) -> str:
    """An opaque, URL-safe cursor for a dataclass instance."""
    raw = json.dumps(dataclasses.asdict(cursor), separators=(",", ":"), allow_nan=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def _valid(value: Any, kind: Any) -> bool:
    # type() rather than isinstance(): bool is a subclass of int.
    if kind is int:
        return type(value) is int and 0 <= value <= BIGINT_MAX
    if kind is float:
        return type(value) in (int, float) and math.isfinite(value) and 0 <= value < 1e9
    if kind is str:
        return type(value) is str and _FINGERPRINT.fullmatch(value) is not None
    return False


def decode_cursor(text: str, kind: type[Cursor]) -> Cursor:
    """The cursor `text` as an instance of the dataclass `kind`.

    :raises InvalidCursor: for anything that encode_cursor would not have made for `kind`.
    """
    if not isinstance(text, str) or not 0 < len(text) <= MAX_CURSOR_CHARS \
            or not _BASE64URL.fullmatch(text):
        raise InvalidCursor()
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
        payload = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant,
                             object_pairs_hook=_unique_keys)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidCursor() from None
    hints = get_type_hints(kind)
    if not isinstance(payload, dict) or set(payload) != set(hints) \
            or not all(_valid(payload[name], hints[name]) for name in hints):
        raise InvalidCursor()
    return kind(**payload)


def split_page(rows: list[Any], limit: int) -> tuple[list[Any], bool]:
    """The first `limit` of `rows` (fetched as limit + 1) and whether there is a next page."""
    return rows[:limit], len(rows) > limit
