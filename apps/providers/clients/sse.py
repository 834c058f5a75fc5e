"""An incremental Server-Sent Events decoder (the WHATWG "event stream" format), for provider streams.

Feed it the response body in whatever pieces the network delivers: a piece may end anywhere, inside a
line, between the CR and LF of a CRLF, or inside a multi-byte UTF-8 character, because it works on bytes
and only hands out complete events. Lines end with LF, CRLF or CR; a blank line ends an event; `data:`
lines of one event are joined with LF; comments (`:` lines) and the other fields (`event`, `id`, `retry`)
are skipped, since the providers we speak to put everything in `data` (and Anthropic repeats the event
name there as `type`). Payloads come back as bytes: orjson parses bytes directly, so no decode is needed.
"""

from __future__ import annotations

_LINE_ENDS = (b"\n", b"\r")


class SSEDecoder:
    def __init__(self) -> None:
        self._pending = b""  # an incomplete last line
        self._data: list[bytes] = []  # data lines of the event being read
        self._skip_lf = False  # the previous piece ended with CR: a leading LF completes that CRLF

    def feed(self, piece: bytes) -> list[bytes]:
        """Decode one piece of the body; return the data of the events it completed, in order."""
        if self._skip_lf:
            self._skip_lf = False
            if piece.startswith(b"\n"):
                piece = piece[1:]
        if not piece:
            return []
        lines = (self._pending + piece).splitlines(keepends=True)
        self._pending = b"" if lines[-1].endswith(_LINE_ENDS) else lines.pop()
        self._skip_lf = piece.endswith(b"\r")
        events: list[bytes] = []
        for line in lines:
            self._line(line.rstrip(b"\r\n"), events)
        return events

    def close(self) -> list[bytes]:
        """The body ended: return the last event even if the server omitted its closing blank line."""
        events: list[bytes] = []
        if self._pending:
            self._line(self._pending, events)
            self._pending = b""
        self._line(b"", events)
        return events

    def _line(self, line: bytes, events: list[bytes]) -> None:
        if not line:
            if self._data:
                events.append(b"\n".join(self._data))
                self._data = []
            return
        field, _, value = line.partition(b":")
        if field == b"data":
            self._data.append(value[1:] if value.startswith(b" ") else value)
