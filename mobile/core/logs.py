"""Logging that never writes where the cardholder was: no query strings, no coordinates.

Kivy keeps a log file on the device and, in its default mode, hands it every record of every
library; urllib3 logs each request line (`GET /api/v1/branches/nearby?lat=…`) at debug level.
`install` quiets the HTTP loggers and puts a redacting filter on every handler, so whatever
reaches a console or a file has its query strings and coordinate pairs replaced.
"""

from __future__ import annotations

import logging
import re

# "?lat=51.5&lon=-0.09" and any other query string: the part after "?" up to a space or quote.
_QUERY = re.compile(r"\?[^\s\"'<>]*")
# A decimal pair that looks like a position ("51.5133, -0.0890" or "51.5133 -0.089").
_PAIR = re.compile(r"-?\d{1,3}\.\d{2,}\s*[,;/ ]\s*-?\d{1,3}\.\d{2,}")
# Tile paths name an area too: /z/x/y.png
_TILE = re.compile(r"/\d{1,2}/\d+/\d+\.(?:png|jpg|jpeg|webp)")
# Loggers of the HTTP stack that record full request lines at debug level.
HTTP_LOGGERS = ("urllib3", "urllib3.connectionpool", "requests", "charset_normalizer")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """`text` without query strings, tile coordinates or coordinate pairs."""
    text = _QUERY.sub("?" + REDACTED, text)
    text = _TILE.sub("/" + REDACTED, text)
    return _PAIR.sub(REDACTED, text)


class RedactPositions(logging.Filter):
    """A handler filter that rewrites each record's message with `redact` before it is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a record whose arguments do not fit its format
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install(root: logging.Logger | None = None) -> RedactPositions:
    """Quiet the HTTP loggers and filter every handler of `root` (and its future ones)."""
    for name in HTTP_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    root = root or logging.getLogger()
    redactor = next((f for f in root.filters if isinstance(f, RedactPositions)), None)
    if redactor is None:
        redactor = RedactPositions()
        root.addFilter(redactor)  # records logged on the root logger itself
    for handler in root.handlers:
        if redactor not in handler.filters:
            handler.addFilter(redactor)  # records propagated from any other logger
    return redactor
