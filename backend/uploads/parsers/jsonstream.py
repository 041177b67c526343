"""Streaming JSON for the parsers: ijson events over strictly checked UTF-8, one-line errors.

Memory stays bounded by the largest single record (one feature, one ATM), not the document,
and by the nesting depth, which is checked on the text before ijson sees it: ijson gives every
event the path to its value, so a few hundred kilobytes of `[[[[...` would cost gigabytes.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from itertools import accumulate
from typing import BinaryIO

import ijson

from backend.uploads.parsers import HEAD_BYTES, UTF8_BOM, UTF16_BOMS, FileFormatError

Event = tuple[str, str, object]

MAX_CHUNK_BYTES = 64 * 1024
MAX_DEPTH = 64  # GeoJSON multipolygons and Open Banking documents need about ten
_SCALAR_EVENTS = frozenset(("null", "boolean", "integer", "double", "number", "string"))
_WHITESPACE = b" \t\r\n"
_CONSTANT = re.compile(r"(?<![\w\"])(?:-?Infinity|NaN)(?![\w\"])")
_ESCAPES = re.compile(rb"\\.", re.S)
_STRINGS = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_BRACKET_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class DepthGauge:
    """Nesting depth of JSON text fed chunk by chunk, in linear time at C speed.

    Escapes are dropped, then string literals, then everything but brackets; a string (or an
    escape) that a chunk cuts continues into the next.
    """

    def __init__(self) -> None:
        self.depth = 0
        self._in_string = False
        self._escaped = False

    def deeper_than(self, chunk: bytes, limit: int) -> bool:
        """Feed a chunk; whether the nesting exceeded `limit` inside it."""
        if self._escaped and chunk:
            chunk, self._escaped = chunk[1:], False
        text = _ESCAPES.sub(b"", b'"' + chunk if self._in_string else chunk)
        if text.endswith(b"\\"):
            text, self._escaped = text[:-1], True
        text = _STRINGS.sub(b"", text)
        quote = text.find(b'"')
        self._in_string = quote >= 0
        if self._in_string:
            text = text[:quote]
        brackets = text.translate(None, _NOT_BRACKETS)
        opens = brackets.count(b"[") + brackets.count(b"{")
        start, self.depth = self.depth, self.depth + 2 * opens - len(brackets)
        if start + opens <= limit:
            return False
        return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets), initial=start)) > limit


class CheckedLines:
    """A binary reader for ijson that hands out one line (at most MAX_CHUNK_BYTES) per read.

    The text is checked to be UTF-8 without NUL bytes (FileFormatError naming the line): the
    first HEAD_BYTES before anything is parsed, so a binary file is refused as such rather
    than as bad JSON, then chunk by chunk. A UTF-8 BOM is dropped. ijson reports a syntax
    error while it parses the chunk that holds it, so `line` (the latest chunk's) is the line of
    the error.
    """

    def __init__(self, stream: BinaryIO, *, partial: bool = False) -> None:
        self._stream = stream
        self._partial = partial  # a cut stream may end inside a character
        head = stream.read(HEAD_BYTES)
        if head.startswith(UTF16_BOMS):
            raise FileFormatError(
                "the file is UTF-16 encoded; save it as UTF-8 and upload it again"
            )
        # A head shorter than asked for is the whole file: it must not end inside a character.
        whole = len(head) < HEAD_BYTES and not partial
        head = head.removeprefix(UTF8_BOM)
        _check_utf8(codecs.getincrementaldecoder("utf-8")("strict"), head, 1, final=whole)
        self._head = io.BytesIO(head)
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._next_line = 1
        self.line = 1
        self.at_end = False
        self.has_content = False
        self._depth = DepthGauge()

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes, never past the end of a line; b"" at the end of the stream."""
        if size == 0:  # ijson probes with read(0) to tell bytes from text
            return b""
        limit = MAX_CHUNK_BYTES if size < 0 else min(size, MAX_CHUNK_BYTES)
        chunk = self._head.readline(limit)
        if not chunk.endswith(b"\n") and len(chunk) < limit:
            chunk += self._stream.readline(limit - len(chunk))
        self.line = self._next_line
        _check_utf8(self._decoder, chunk, self.line, final=not chunk and not self._partial)
        if self._depth.deeper_than(chunk, MAX_DEPTH):
            raise FileFormatError(f"line {self.line}: JSON nested deeper than {MAX_DEPTH} levels")
        self._next_line += chunk.count(b"\n")
        if chunk.strip(_WHITESPACE):
            self.has_content = True
        if not chunk:
            self.at_end = True
        return chunk


def _check_utf8(decoder: codecs.IncrementalDecoder, data: bytes, first_line: int, *,
                final: bool) -> None:
    """Raise FileFormatError naming the line unless `data` continues valid UTF-8 without NUL."""
    try:
        decoder.decode(data, final=final)
    except UnicodeDecodeError as error:
        held = error.object  # bytes held back from the last chunk + this one
        line = first_line + bytes(held[:error.start]).count(b"\n")
        shown = held[error.start] if error.start < len(held) else 0
        raise FileFormatError(
            f"line {line}: not UTF-8 text (byte 0x{shown:02x}); "
            "save the file as UTF-8 and upload it again"
        ) from None
    if b"\x00" in data:
        line = first_line + data.count(b"\n", 0, data.index(b"\x00"))
        raise FileFormatError(
            f"line {line}: contains a NUL byte; this does not look like a text file"
        )


def json_events(stream: BinaryIO, *, partial: bool = False) -> Iterator[Event]:
    """ijson's (prefix, event, value) events of a JSON document; numbers as int or float.

    Syntax errors raise FileFormatError ("line N: not valid JSON (...)"). With `partial`, the
    stream may be cut anywhere (a file's head): an error at its end just ends the events.
    """
    reader = CheckedLines(stream, partial=partial)
    try:
        yield from ijson.parse(reader, use_float=True)
    except UnicodeDecodeError:
        # ijson cannot decode a lone surrogate escape ("\\udfff") into text.
        raise FileFormatError(f"line {reader.line}: a string is not valid Unicode (an unpaired "
                              "surrogate escape); this is not valid text") from None
    except ijson.JSONError as error:
        if partial and reader.at_end:
            return
        if not reader.has_content:
            raise FileFormatError("the file is empty: expected a JSON document") from None
        raise FileFormatError(_syntax_message(str(error), reader)) from None


def build_value(events: Iterator[Event], event: str, value: object) -> object:
    """The whole value that starts with (event, value), consuming its events from `events`."""
    if event in _SCALAR_EVENTS:
        return value
    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    depth = 1
    for _, inner_event, inner_value in events:
        builder.event(inner_event, inner_value)
        if inner_event in ("start_map", "start_array"):
            depth += 1
        elif inner_event in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                break
    return builder.value


def is_scalar(event: str) -> bool:
    """Whether an ijson event is a complete scalar value."""
    return event in _SCALAR_EVENTS


def _syntax_message(message: str, reader: CheckedLines) -> str:
    """One line from ijson's message: the line, yajl's reason and the text it quotes."""
    lines = message.strip("\n").split("\n")
    reason = lines[0].strip().rstrip(".")
    for prefix in ("parse error: ", "lexical error: "):
        reason = reason.removeprefix(prefix)
    if reason == "premature EOF":
        return (f"line {reader.line}: the JSON document ends too early "
                "(is the file truncated?)")
    # yajl quotes up to 30 characters either side of the error on its second line.
    near = " ".join(lines[1].split()) if len(lines) > 2 else ""
    if constant := _CONSTANT.search(near):
        return f"line {reader.line}: not valid JSON: {constant[0]} is not allowed as a number"
    near = f", near '{near}'" if near else ""
    return f"line {reader.line}: not valid JSON ({reason}{near})"
