"""RESP2 on the wire: the errors a command can end with, Lua scripts by digest, encoding a command and parsing
a reply out of a buffer (pure functions, no I/O)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

Arg = str | bytes | int
Reply = str | bytes | int | None | list["Reply"]


class RespError(Exception):
    """An error reply of Redis (`-ERR …`, `-NOSCRIPT …`): the command reached Redis, which refused it."""


class RespConnectionError(ConnectionError):
    """Redis cannot be reached: the connection was refused, broken or closed."""


class RespTimeout(TimeoutError):
    """Redis did not connect or answer within the client's timeout: slow, not necessarily down."""


class Script:
    """A Lua script run by EVALSHA: loaded into Redis the first time it is missing there (NOSCRIPT)."""

    __slots__ = ("sha", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()


def encode(args: Sequence[Arg]) -> bytes:
    return b"*%d\r\n%s" % (len(args), bulk_strings(args))


def bulk_strings(args: Sequence[Arg]) -> bytes:
    """The arguments as RESP bulk strings, one after the other (a command without its array header): one pass,
    on every command of every call (half the time of formatting one string and encoding it once, measured)."""
    parts = []
    for arg in args:
        if isinstance(arg, str):
            data = arg.encode()
        elif isinstance(arg, bytes):
            data = arg
        else:
            data = b"%d" % arg
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


INCOMPLETE = object()  # a reply not yet whole in the buffer


def parse(buffer: bytearray, pos: int) -> tuple[object, int]:
    """The reply starting at `pos` and the position after it, or (INCOMPLETE, pos) when more bytes are needed. An
    error reply is returned as a RespError (inside an array too); the caller raises it."""
    end = buffer.find(b"\r\n", pos)
    if end < 0:
        return INCOMPLETE, pos
    kind, line = buffer[pos], buffer[pos + 1 : end]
    if kind == 0x24:  # $ bulk string
        size = int(line)
        if size < 0:
            return None, end + 2
        stop = end + 2 + size
        if len(buffer) < stop + 2:
            return INCOMPLETE, pos
        return bytes(buffer[end + 2 : stop]), stop + 2
    if kind == 0x3A:  # : integer
        return int(line), end + 2
    if kind == 0x2A:  # * array
        count = int(line)
        if count < 0:
            return None, end + 2
        items: list[object] = []
        at = end + 2
        for _ in range(count):
            if buffer[at : at + 1] == b":":  # an integer, the usual item of the scripts' replies: no call
                stop = buffer.find(b"\r\n", at)
                if stop < 0:
                    return INCOMPLETE, pos
                items.append(int(buffer[at + 1 : stop]))
                at = stop + 2
                continue
            item, at = parse(buffer, at)
            if item is INCOMPLETE:
                return INCOMPLETE, pos
            items.append(item)
        return items, at
    if kind == 0x2B:  # + simple string
        return line.decode(), end + 2
    if kind == 0x2D:  # - error
        return RespError(line.decode(errors="replace")), end + 2
    raise RespConnectionError(f"not a RESP reply from Redis: {bytes(buffer[pos : end + 2])!r}")
