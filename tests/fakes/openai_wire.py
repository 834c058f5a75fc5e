"""OpenAI's wire format as the real API sends it: bodies, stream chunks and error envelopes.

Shapes and messages follow OpenAI's API reference and what api.openai.com answers; the fake upstream
builds every answer from here so a test, the gateway's end-to-end suite and the official SDK all see the
same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import time
import uuid
from typing import Any

FINGERPRINT = "fp_fake0openai"
DEFAULT_MODELS = [
    {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
    {"id": "text-embedding-3-small", "object": "model", "created": 1705948997, "owned_by": "system"},
]
EMBEDDING_DIMENSIONS = 8
# Stream pieces keep the whitespace before their word, like real tokens (" world"), and add up to the text.
_PIECES = re.compile(r"\s*\S+|\s+")

# status -> (message, type, param, code), from answers of the real API
ERRORS: dict[int, tuple[str, str, str | None, str | None]] = {
    400: (
        "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
        "invalid_request_error",
        "messages",
        "empty_array",
    ),
    401: (
        "Incorrect API key provided: sk-wrong. You can find your API key at https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        None,
        "invalid_api_key",
    ),
    403: ("Project `proj_fake` does not have access to model `gpt-4o-mini`", "invalid_request_error", None, None),
    404: (
        "The model `gpt-5-nonexistent` does not exist or you do not have access to it.",
        "invalid_request_error",
        None,
        "model_not_found",
    ),
    429: (
        "Rate limit reached for gpt-4o-mini in organization org-fake on requests per min (RPM): Limit 3, Used 3, "
        "Requested 1. Please try again in 20s.",
        "requests",
        None,
        "rate_limit_exceeded",
    ),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None, None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None, None),
}


def error_body(message: str, type_: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def scripted_error(status: int, errors: dict[int, tuple[str, str, str | None, str | None]] = ERRORS) -> dict[str, Any]:
    default_type = "server_error" if status >= 500 else "invalid_request_error"
    return error_body(*errors.get(status, (f"Scripted HTTP {status}.", default_type, None, None)))


def count_words(text: str) -> int:
    """The fake's token count: words, so tests can tell its usage from the gateway's tiktoken estimate."""
    return len(text.split())


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    total = 0
    for message in messages:
        content = message.get("content")
        parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
        total += sum(count_words(part.get("text", "")) for part in parts if isinstance(part, dict))
    return total


def usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _envelope(model: str, obj: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:29]}",
        "object": obj,
        "created": int(time.time()),
        "model": model,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }


def completion(model: str, messages: list[dict[str, Any]], reply: str, *, with_usage: bool = True) -> dict[str, Any]:
    message = {"role": "assistant", "content": reply, "refusal": None, "annotations": []}
    body = {
        **_envelope(model, "chat.completion"),
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
    }
    if with_usage:
        body["usage"] = usage(prompt_tokens(messages), count_words(reply))
    return body


def chunks(model: str, messages: list[dict[str, Any]], reply: str, *, include_usage: bool) -> list[dict[str, Any]]:
    """A whole stream: role chunk, one chunk per word, finish chunk, and (if asked) the usage chunk."""
    envelope = _envelope(model, "chat.completion.chunk")
    extra: dict[str, Any] = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**envelope, "choices": [choice], **extra}

    stream = [chunk({"role": "assistant", "content": "", "refusal": None})]
    stream += [chunk({"content": piece}) for piece in _PIECES.findall(reply)]
    stream.append(chunk({}, "stop"))
    if include_usage:
        stream.append({**envelope, "choices": [], "usage": usage(prompt_tokens(messages), count_words(reply))})
    return stream


def embeddings(model: str, inputs: Any, dimensions: int | None, encoding_format: str | None) -> dict[str, Any]:
    if isinstance(inputs, str) or (isinstance(inputs, list) and inputs and isinstance(inputs[0], int)):
        inputs = [inputs]
    size = dimensions or EMBEDDING_DIMENSIONS
    data = []
    for index, item in enumerate(inputs):
        digest = hashlib.sha256(repr(item).encode()).digest() * (size // 8 + 1)
        vector = [(byte - 127.5) / 127.5 for byte in digest[:size]]
        encoded: Any = vector
        if encoding_format == "base64":
            encoded = base64.b64encode(struct.pack(f"<{size}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(count_words(item) if isinstance(item, str) else len(item) for item in inputs)
    return {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
