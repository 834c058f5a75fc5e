"""OpenAI `chat.completion.chunk` dicts → the server-sent events of Anthropic's streaming Messages API, as a pure
translator (no I/O): `event: <type>` and `data: <json>` lines, in the documented order

    message_start, then per content block: content_block_start (the first one followed by ping),
    content_block_delta (text_delta, or input_json_delta for a tool_use block), content_block_stop;
    then message_delta (stop_reason and usage) and message_stop.

OpenAI sends the usage last (the `choices: []` chunk), so message_start carries zero tokens and message_delta
the counts (input, output and cache reads), as Anthropic's own message_delta does. A failure midway is an
`error` event, after which nothing else is sent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from apps.gateway.pipeline.errors import GatewayError
from apps.gateway.surfaces.anthropic_answer import (
    STOP_REASONS,
    gateway_error_body,
    message_id,
    tool_input,
    usage_to_anthropic,
)


def sse(name: str, data: Mapping[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class MessageStream:
    """Feed it each chunk (`render`); `done` ends a completed stream, `error` one that failed."""

    def __init__(self, *, model: str) -> None:
        self.model = model
        self._started = False
        self._pinged = False
        self._block: int | None = None  # the open content block's index
        self._blocks = 0
        self._kind = ""  # the open block's type
        self._tools: dict[int, tuple[int, str, list[str]]] = {}  # OpenAI call index -> (block, name, arguments)
        self._stop_reason = "end_turn"
        self._usage: Mapping[str, Any] | None = None

    def render(self, chunk: Mapping[str, Any]) -> bytes | None:
        out: list[bytes] = []
        if not self._started:
            self._started = True
            out.append(self._message_start(chunk))
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if text := delta.get("content"):
                if self._kind != "text":
                    out += self._open({"type": "text", "text": ""})
                out.append(self._delta({"type": "text_delta", "text": text}))
            for call in delta.get("tool_calls") or ():
                out += self._tool_call(call)
            if reason := choice.get("finish_reason"):
                self._stop_reason = STOP_REASONS.get(str(reason), "end_turn")
        return b"".join(out) or None

    def done(self) -> list[bytes]:
        """What follows a completed stream: the last block's stop, message_delta and message_stop; or an error
        event when a tool call's arguments did not add up to a JSON object."""
        try:
            for _, name, arguments in self._tools.values():
                tool_input("".join(arguments), name)
        except GatewayError as exc:
            return [self.error(exc)]
        out = self._close()
        usage = usage_to_anthropic(self._usage)
        delta = {"type": "message_delta", "delta": {"stop_reason": self._stop_reason, "stop_sequence": None}}
        out.append(sse("message_delta", {**delta, "usage": usage}))
        out.append(sse("message_stop", {"type": "message_stop"}))
        return out

    @staticmethod
    def error(exc: GatewayError) -> bytes:
        return sse("error", gateway_error_body(exc))

    def _message_start(self, chunk: Mapping[str, Any]) -> bytes:
        message: dict[str, Any] = {
            "id": message_id(chunk.get("id")),
            "type": "message",
            "role": "assistant",
            "model": chunk.get("model") or self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return sse("message_start", {"type": "message_start", "message": message})

    def _open(self, block: dict[str, Any]) -> list[bytes]:
        out = self._close()
        self._block, self._kind = self._blocks, block["type"]
        self._blocks += 1
        out.append(
            sse("content_block_start", {"type": "content_block_start", "index": self._block, "content_block": block})
        )
        if not self._pinged:
            self._pinged = True
            out.append(sse("ping", {"type": "ping"}))
        return out

    def _close(self) -> list[bytes]:
        if self._block is None:
            return []
        index, self._block, self._kind = self._block, None, ""
        return [sse("content_block_stop", {"type": "content_block_stop", "index": index})]

    def _delta(self, delta: dict[str, Any], index: int | None = None) -> bytes:
        at = self._block if index is None else index
        return sse("content_block_delta", {"type": "content_block_delta", "index": at, "delta": delta})

    def _tool_call(self, call: Mapping[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        position = int(call.get("index") or 0)
        function = call.get("function") or {}
        if position not in self._tools:
            name = str(function.get("name") or "")
            self._tools[position] = (self._blocks, name, [])  # the index _open gives the block
            out += self._open({"type": "tool_use", "id": call.get("id") or "", "name": name, "input": {}})
        index, _, arguments = self._tools[position]
        if piece := function.get("arguments"):
            arguments.append(piece)
            out.append(self._delta({"type": "input_json_delta", "partial_json": piece}, index))
        return out
