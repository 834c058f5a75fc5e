"""Streams as the pipeline speaks them: server-sent event bytes, a streamed completion assembled into one
chat.completion body (for the policy steps that read the answer), and a complete body replayed as
OpenAI `chat.completion.chunk` dicts (an answer from a step, such as a cache hit, on a streamed request)."""

from __future__ import annotations

from typing import Any

import orjson

SSE_DONE = b"data: [DONE]\n\n"


def sse_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


class StreamAnswer:
    """Collects the chunks of a stream (its first choice) into the chat.completion body they add up to."""

    __slots__ = ("content", "created", "finish_reason", "id", "model", "tool_calls", "usage")

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.created = 0
        self.content: list[str] = []
        self.finish_reason: str | None = None
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.usage: dict[str, Any] | None = None

    def add(self, chunk: dict[str, Any]) -> None:
        if not self.id:
            self.id, self.model = str(chunk.get("id") or ""), str(chunk.get("model") or "")
            self.created = int(chunk.get("created") or 0)
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if content := delta.get("content"):
                self.content.append(content)
            for call in delta.get("tool_calls") or ():
                self._add_tool_call(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    def _add_tool_call(self, part: dict[str, Any]) -> None:
        # A call opens with its id, type and name; its arguments (a custom tool's input) follow in pieces.
        call = self.tool_calls.setdefault(int(part.get("index") or 0), {})
        for name in ("id", "type"):
            if part.get(name):
                call[name] = part[name]
        for kind, field in (("function", "arguments"), ("custom", "input")):
            if kind in part:
                into = call.setdefault(kind, {"name": "", field: ""})
                piece = part[kind] or {}
                if piece.get("name"):
                    into["name"] = piece["name"]
                into[field] += piece.get(field) or ""

    def body(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.content) or None}
        if self.tool_calls:
            message["tool_calls"] = [self.tool_calls[index] for index in sorted(self.tool_calls)]
        elif message["content"] is None:
            message["content"] = ""
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": self.finish_reason}],
            "usage": self.usage,
        }


def replay(body: dict[str, Any], *, include_usage: bool) -> list[dict[str, Any]]:
    """A chat.completion body as the chunks a stream of it would have sent: the role, the content, the tool
    calls, the finish reason, then the usage-only chunk when `include_usage`."""
    envelope = {
        "id": body.get("id") or "",
        "object": "chat.completion.chunk",
        "created": body.get("created") or 0,
        "model": body.get("model") or "",
    }

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**envelope, "choices": [choice], "usage": None}

    choice = (body.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    tool_calls = message.get("tool_calls") or []
    chunks = [chunk({"role": "assistant", "content": None if tool_calls else ""})]
    if message.get("content"):
        chunks.append(chunk({"content": message["content"]}))
    if tool_calls:
        chunks.append(chunk({"tool_calls": [{**call, "index": index} for index, call in enumerate(tool_calls)]}))
    chunks.append(chunk({}, choice.get("finish_reason") or "stop"))
    if include_usage and body.get("usage"):
        chunks.append({**envelope, "choices": [], "usage": body["usage"]})
    return chunks
