"""The chat.completion answer → OpenAI's `response` object, and OpenAI `chat.completion.chunk` dicts → the
server-sent events of a streamed response, as pure translators (no I/O). A stream's events, each an `event:` line
and a `data:` line with its `sequence_number`, in the documented order:

    response.created, response.in_progress; per output item: response.output_item.added, then for a message
    response.content_part.added, response.output_text.delta…, response.output_text.done,
    response.content_part.done, or for a function call response.function_call_arguments.delta…, .done; then
    response.output_item.done; last response.completed (response.incomplete when the output limit cut it).

A failure midway is an `error` event followed by response.failed, after which nothing else is sent."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from apps.gateway.pipeline.errors import GatewayError
from apps.gateway.surfaces.openai_responses import new_id

_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def response_base(body: Mapping[str, Any], *, response_id: str, created_at: int, model: str) -> dict[str, Any]:
    """The response object before its output: the request's settings echoed, as OpenAI's own response does."""
    text = dict(body.get("text") or {})
    text.setdefault("format", {"type": "text"})
    reasoning = body.get("reasoning") or {}
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": model,
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": None},
        "service_tier": "default",
        "store": body.get("store") is not False,
        "temperature": body.get("temperature"),
        "text": text,
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p"),
        "truncation": "disabled",
        "usage": None,
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }


def usage_of(usage: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not usage:
        return None
    prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    reasoning = int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + completion,
    }


def finished(
    base: Mapping[str, Any], output: list[dict[str, Any]], finish_reason: Any, usage: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The response, complete: its output, status (incomplete when the output limit or a filter cut it), usage."""
    reason = _INCOMPLETE.get(str(finish_reason))
    return {
        **base,
        "status": "incomplete" if reason else "completed",
        "completed_at": int(time.time()),
        "incomplete_details": {"reason": reason} if reason else None,
        "output": output,
        "usage": usage_of(usage),
    }


def _message_item(text: str, *, status: str = "completed") -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {"id": new_id("msg"), "type": "message", "status": status, "role": "assistant", "content": [part]}


def _call_item(call_id: str, name: str, arguments: str, *, status: str = "completed") -> dict[str, Any]:
    return {
        "id": new_id("fc"),
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def response_of(base: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, Any]:
    """The response for a chat.completion body (its first choice)."""
    choice = (answer.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(part.get("text") or "" for part in content if isinstance(part, Mapping))
    calls = message.get("tool_calls") or []
    output = []
    if content or message.get("refusal") or not calls:
        output.append(_message_item(content or message.get("refusal") or ""))
    for call in calls:
        function = call.get("function") or {}
        output.append(
            _call_item(str(call.get("id") or ""), function.get("name") or "", function.get("arguments") or "")
        )
    return finished(base, output, choice.get("finish_reason"), answer.get("usage"))


class ResponseStream:
    """Feed it each chunk (`render`); `done` ends a completed stream, `error` one that failed. `response` is the
    final response once `done` has run."""

    def __init__(self, base: dict[str, Any]) -> None:
        self.base = base
        self.response: dict[str, Any] | None = None
        self._sequence = 0
        self._started = False
        self._output: list[dict[str, Any]] = []
        self._open: dict[str, Any] | None = None  # the output item being streamed
        self._pieces: list[str] = []  # its text or arguments so far
        self._calls: dict[int, dict[str, Any]] = {}  # chat tool-call index -> its item
        self._finish_reason: Any = None
        self._usage: Mapping[str, Any] | None = None

    def _event(self, kind: str, **data: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self._sequence, **data}
        self._sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"

    def render(self, chunk: Mapping[str, Any]) -> bytes | None:
        out: list[bytes] = []
        if not self._started:
            self._started = True
            out.append(self._event("response.created", response=self.base))
            out.append(self._event("response.in_progress", response=self.base))
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if text := delta.get("content") or delta.get("refusal"):
                out += self._text(text)
            for call in delta.get("tool_calls") or ():
                out += self._call(call)
            if reason := choice.get("finish_reason"):
                self._finish_reason = reason
        return b"".join(out) or None

    def _position(self) -> int:
        return len(self._output)

    def _open_message(self) -> list[bytes]:
        out = self._close()
        self._open = item = _message_item("", status="in_progress")
        part, item["content"] = item["content"][0], []
        out.append(self._event("response.output_item.added", output_index=self._position(), item=item))
        out.append(self._event("response.content_part.added", **self._where(), content_index=0, part=part))
        return out

    def _text(self, text: str) -> list[bytes]:
        out = self._open_message() if self._open is None or self._open["type"] != "message" else []
        self._pieces.append(text)
        delta = {"content_index": 0, "delta": text, "logprobs": []}
        return [*out, self._event("response.output_text.delta", **self._where(), **delta)]

    def _call(self, call: Mapping[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        index = int(call.get("index") or 0)
        function = call.get("function") or {}
        if index not in self._calls:
            out += self._close()
            item = _call_item(str(call.get("id") or ""), str(function.get("name") or ""), "", status="in_progress")
            self._calls[index] = self._open = item
            out.append(self._event("response.output_item.added", output_index=self._position(), item=item))
        if piece := function.get("arguments"):
            if self._open is not self._calls[index]:  # a call already closed (interleaved): its item still gets it
                self._calls[index]["arguments"] += piece
                return out
            self._pieces.append(piece)
            out.append(self._event("response.function_call_arguments.delta", **self._where(), delta=piece))
        return out

    def _where(self) -> dict[str, Any]:
        assert self._open is not None  # only called with an item open
        return {"item_id": self._open["id"], "output_index": self._position()}

    def _close(self) -> list[bytes]:
        """The open item's done events; the item joins the output."""
        if self._open is None:
            return []
        item, where, joined = self._open, self._where(), "".join(self._pieces)
        out: list[bytes] = []
        if item["type"] == "message":
            part = {"type": "output_text", "text": joined, "annotations": [], "logprobs": []}
            out.append(self._event("response.output_text.done", **where, content_index=0, text=joined, logprobs=[]))
            out.append(self._event("response.content_part.done", **where, content_index=0, part=part))
            item["content"] = [part]
        else:
            item["arguments"] = joined
            out.append(self._event("response.function_call_arguments.done", **where, arguments=joined))
        item["status"] = "completed"
        out.append(self._event("response.output_item.done", output_index=where["output_index"], item=item))
        self._output.append(item)
        self._open, self._pieces = None, []
        return out

    def done(self) -> list[bytes]:
        out = self._close()
        if not self._output:  # nothing was said: an empty message, as the unstreamed answer has
            out += self._open_message() + self._close()
        self.response = finished(self.base, self._output, self._finish_reason, self._usage)
        kind = "response.completed" if self.response["status"] == "completed" else "response.incomplete"
        return [*out, self._event(kind, response=self.response)]

    def error(self, exc: GatewayError) -> bytes:
        error = {"code": exc.code or exc.type, "message": exc.message}
        failed = {**self.base, "status": "failed", "error": error, "output": self._output}
        return self._event("error", **error, param=exc.param) + self._event("response.failed", response=failed)
