"""A local fake of Google's Gemini API (generativelanguage.googleapis.com) that speaks its real wire format (held
to it by the official `google-genai` SDK in tests/providers/clients/test_gemini_fake.py).

    with FakeGeminiUpstream(api_key="AIza-test") as fake:
        fake.base_url                 # http://127.0.0.1:PORT (the SDK's base_url; paths start with /v1beta or /v1)
        fake.script("status:429")     # the next request fails, then `fake.mode` ("ok") again
        fake.requests[-1].body        # what it received

`POST /v1beta/models/{model}:generateContent` (and `:streamGenerateContent?alt=sse`, one GenerateContentResponse
per `data:` event) checks what Google checks (the key, in `x-goog-api-key` or `?key=`, a wrong one being a 400
with reason API_KEY_INVALID as Google answers it; non-empty `contents` with roles user/model; one data field per
part; every functionCall answered by as many functionResponses in the next turn; Schema fields only, so
`additionalProperties` is refused as "Unknown name") and answers `reply` as text, cut at the first stopSequences
hit (STOP) or at maxOutputTokens words (MAX_TOKENS), `candidateCount` times. A function-calling mode ANY calls the
first allowed function with a sample of its parameters; responseMimeType application/json answers a sample of
responseSchema. Tokens are words; `cached`/`thoughts` are reported as Google reports them. `:batchEmbedContents`
and `:embedContent` answer `dimensions`-long vectors (or outputDimensionality). `GET /v1beta/models` pages
`models` with pageSize/pageToken.

Modes: ok, status:CODE (Google's error body for CODE), garbage (an HTML 502 page), blocked (promptFeedback
blockReason SAFETY, no candidates), safety (finishReason SAFETY), midstream_error (streams: an error event after
the first chunk), midstream_fail (streams: the connection drops after the first chunk).
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from apps.providers.clients.schema_sample import sample
from tests.fakes.server import FakeServer, RecordedRequest, read_json

STATUSES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
SCHEMA_FIELDS = frozenset(
    {"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties"}
    | {"required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf"}
    | {"propertyOrdering", "default", "items", "minimum", "maximum"}
)
PART_FIELDS = ("text", "inlineData", "fileData", "functionCall", "functionResponse")
CHAT = ["generateContent", "countTokens"]
DEFAULT_MODELS = [
    {"name": "models/gemini-2.5-flash", "inputTokenLimit": 1048576, "supportedGenerationMethods": CHAT},
    {"name": "models/gemini-2.0-flash-001", "inputTokenLimit": 1048576, "supportedGenerationMethods": CHAT},
    {"name": "models/gemini-embedding-001", "inputTokenLimit": 2048, "supportedGenerationMethods": ["embedContent"]},
    {"name": "models/imagen-4.0-generate-001", "inputTokenLimit": 480, "supportedGenerationMethods": ["predict"]},
]


class FakeGeminiUpstream(FakeServer):
    thread_name = "fake-gemini"

    def __init__(self, *, api_key: str | None = None, reply: str = "This is a test.", dimensions: int = 4) -> None:
        super().__init__()
        self.api_key = api_key
        self.reply = reply
        self.dimensions = dimensions
        self.models = [
            {"version": "001", "displayName": model["name"], "outputTokenLimit": 8192, **model}
            for model in DEFAULT_MODELS
        ]
        self.cached = self.thoughts = 0
        self.requests: list[RecordedRequest] = []

    @property
    def base_url(self) -> str:
        return self.origin

    def routes(self, router: web.UrlDispatcher) -> None:
        for version in ("v1beta", "v1"):  # Google serves both; the gateway's default and google-genai 3.x's
            router.add_post(f"/{version}/models/{{target}}", self._model_method)
            router.add_get(f"/{version}/models", self._models)

    async def _receive(self, request: web.Request) -> tuple[Any, str, web.Response | None]:
        body = await read_json(request)
        self.requests.append(
            RecordedRequest(request.method, request.path, dict(request.query), CIMultiDict(request.headers), body)
        )
        mode = self.next_mode()
        presented = request.headers.get("x-goog-api-key") or request.query.get("key")
        if self.api_key is not None and presented != self.api_key:
            bad_key = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]
            return body, mode, error(400, "API key not valid. Please pass a valid API key.", bad_key)
        if mode.startswith("status:"):
            code = int(mode.removeprefix("status:"))
            return body, mode, error(code, f"scripted {STATUSES.get(code, 'UNKNOWN')}")
        if mode == "garbage":
            return body, mode, web.Response(status=200, body=b"<html>502 Bad Gateway</html>", content_type="text/html")
        return body, mode, None

    async def _models(self, request: web.Request) -> web.Response:
        _, _, early = await self._receive(request)
        if early is not None:
            return early
        size = min(int(request.query.get("pageSize", "50")), 1000)
        start = int(request.query.get("pageToken") or 0)  # Google's tokens are opaque; an offset will do
        page: dict[str, Any] = {"models": self.models[start : start + size]}
        if start + size < len(self.models):
            page["nextPageToken"] = str(start + size)
        return web.json_response(page)

    async def _model_method(self, request: web.Request) -> web.StreamResponse:
        body, mode, early = await self._receive(request)
        if early is not None:
            return early
        model, _, method = request.match_info["target"].partition(":")
        if method in ("embedContent", "batchEmbedContents"):
            return self._embed(method, body)
        if method not in ("generateContent", "streamGenerateContent"):
            return error(404, f"Method {method!r} not found for models/{model}.")
        if problem := check_request(body):
            return error(400, problem)
        answer = self._answer(model, body, mode)
        if method == "generateContent":
            return web.json_response(answer)
        if request.query.get("alt") != "sse":
            return web.json_response([answer])  # without alt=sse Google streams one JSON array
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionResetError):
            for index, event in enumerate(stream_events(answer)):
                if index == 1 and mode == "midstream_error":
                    await response.write(sse({"error": _error_body(503, "The model is overloaded.")}))
                    break
                if index == 1 and mode == "midstream_fail":
                    assert request.transport is not None
                    request.transport.close()
                    return response
                await response.write(sse(event))
            await response.write_eof()
        return response

    def _embed(self, method: str, body: Any) -> web.Response:
        requests = body.get("requests") if method == "batchEmbedContents" else [body]
        if not isinstance(requests, list) or not requests:
            return error(400, "* BatchEmbedContentsRequest.requests: contents is not specified")
        vectors = []
        for number, item in enumerate(requests):
            parts = (item.get("content") or {}).get("parts") or []
            if not parts or not all(isinstance(part.get("text"), str) for part in parts):
                return error(400, f"* BatchEmbedContentsRequest.requests[{number}].content.parts: must be text")
            size = int(item.get("outputDimensionality") or self.dimensions)
            seed = len(" ".join(part["text"] for part in parts))
            vectors.append({"values": [round((seed + n) / 100, 2) for n in range(size)]})
        if method == "embedContent":
            return web.json_response({"embedding": vectors[0]})
        return web.json_response({"embeddings": vectors})

    def _answer(self, model: str, body: dict[str, Any], mode: str) -> dict[str, Any]:
        prompt = _count_words(body)
        answer: dict[str, Any] = {"modelVersion": model, "responseId": uuid.uuid4().hex[:22]}
        usage: dict[str, Any] = {"promptTokenCount": prompt + self.cached}
        if self.cached:
            usage["cachedContentTokenCount"] = self.cached
        if mode == "blocked":
            usage["totalTokenCount"] = usage["promptTokenCount"]
            return {**answer, "promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage}
        config = body.get("generationConfig") or {}
        candidates, output = [], 0
        for index in range(int(config.get("candidateCount") or 1)):
            parts, reason = self._parts(body, config)
            if mode == "safety":
                parts, reason = [], "SAFETY"
            output += sum(len(str(part.get("text") or orjson.dumps(part).decode()).split()) for part in parts)
            content = {"role": "model", "parts": parts}
            candidates.append({"content": content, "finishReason": reason, "index": index})
        usage["candidatesTokenCount"] = output
        if self.thoughts:
            usage["thoughtsTokenCount"] = self.thoughts
        usage["totalTokenCount"] = usage["promptTokenCount"] + output + self.thoughts
        return {"candidates": candidates, "usageMetadata": usage, **answer}

    def _parts(self, body: dict[str, Any], config: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        if function := _forced_function(body):
            args = sample(_json_schema(function.get("parameters") or {}), "test")
            return [{"functionCall": {"name": function["name"], "args": args}}], "STOP"
        if config.get("responseMimeType") == "application/json":
            value = sample(_json_schema(config.get("responseSchema") or {"type": "OBJECT"}), "test")
            return [{"text": orjson.dumps(value).decode()}], "STOP"
        text, reason = self.reply, "STOP"
        for sequence in config.get("stopSequences") or ():
            if sequence in text:
                text = text[: text.index(sequence)]
        words = text.split(" ")
        if config.get("maxOutputTokens") and len(words) > config["maxOutputTokens"]:
            text, reason = " ".join(words[: config["maxOutputTokens"]]), "MAX_TOKENS"
        return [{"text": text}], reason


def check_request(body: Any) -> str | None:
    """What Google's validation says of a generateContent body it refuses, or None."""
    if not isinstance(body, dict):
        return "Invalid JSON payload received."
    contents = body.get("contents")
    if not contents:
        return "* GenerateContentRequest.contents: contents is not specified"
    pending = 0
    for index, content in enumerate(contents):
        if content.get("role") not in ("user", "model"):
            return f"Please use a valid role: user, model. (contents[{index}].role)"
        parts = content.get("parts") or []
        if not parts:
            return f"* GenerateContentRequest.contents[{index}].parts: contents.parts must not be empty."
        for number, part in enumerate(parts):
            present = [name for name in PART_FIELDS if name in part]
            if len(present) != 1:
                return f"* GenerateContentRequest.contents[{index}].parts[{number}].data: required oneof field"
        responses = sum(1 for part in parts if "functionResponse" in part)
        if pending and responses != pending:
            return (
                "Please ensure that the number of function response parts is equal to the number of function call "
                "parts of the function call turn."
            )
        pending = sum(1 for part in parts if "functionCall" in part)
    for number, tool in enumerate(body.get("tools") or ()):
        for position, declaration in enumerate(tool.get("functionDeclarations") or ()):
            where = f"tools[{number}].function_declarations[{position}].parameters"
            if problem := _schema_problem(declaration.get("parameters") or {}, where):
                return problem
    schema = (body.get("generationConfig") or {}).get("responseSchema")
    return _schema_problem(schema, "generation_config.response_schema") if schema else None


def _schema_problem(schema: dict[str, Any], where: str) -> str | None:
    for key, value in schema.items():
        if key not in SCHEMA_FIELDS:
            return f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': Cannot find field."
        nested = []
        if key == "properties":
            nested = [(item, f"{where}.properties[{name}].value") for name, item in value.items()]
        elif key == "items":
            nested = [(value, f"{where}.items")]
        elif key == "anyOf":
            nested = [(item, f"{where}.any_of[{n}]") for n, item in enumerate(value)]
        for item, place in nested:
            if problem := _schema_problem(item, place):
                return problem
    return None


def stream_events(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The GenerateContentResponses Google streams for `answer`: text word by word, a function call whole, the
    finishReason and the full usage on the last one (earlier ones carry the prompt's count)."""
    if "candidates" not in answer:
        return [answer]
    envelope = {"modelVersion": answer["modelVersion"], "responseId": answer["responseId"]}
    prompt_usage = {"promptTokenCount": answer["usageMetadata"]["promptTokenCount"]}
    events: list[dict[str, Any]] = []
    for candidate in answer["candidates"]:
        pieces = []
        for part in candidate["content"]["parts"]:
            words = part["text"].split(" ") if "text" in part else []
            pieces += [{"text": w if n == 0 else " " + w} for n, w in enumerate(words)] if words else [part]
        for piece in pieces or [{"text": ""}]:
            content = {"role": "model", "parts": [piece]}
            events.append({"candidates": [{"content": content, "index": candidate["index"]}], **envelope})
        events[-1]["candidates"][0]["finishReason"] = candidate["finishReason"]
    for event in events:
        event["usageMetadata"] = prompt_usage
    events[-1]["usageMetadata"] = answer["usageMetadata"]
    return events


def sse(data: Any) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\r\n\r\n"


def _error_body(code: int, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message, "status": STATUSES.get(code, "UNKNOWN")}
    if details:
        body["details"] = details
    return body


def error(code: int, message: str, details: list[dict[str, Any]] | None = None) -> web.Response:
    return web.json_response({"error": _error_body(code, message, details)}, status=code)


def _forced_function(body: dict[str, Any]) -> dict[str, Any] | None:
    config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if config.get("mode") != "ANY":
        return None
    declarations = [d for tool in body.get("tools") or () for d in tool.get("functionDeclarations") or ()]
    allowed = config.get("allowedFunctionNames")
    return next((d for d in declarations if not allowed or d["name"] in allowed), None)


def _json_schema(schema: Any) -> Any:
    """Gemini's upper-case types back to JSON Schema's, for the sampler."""
    if isinstance(schema, dict):
        return {k: (v.lower() if k == "type" and isinstance(v, str) else _json_schema(v)) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_json_schema(item) for item in schema]
    return schema


def _count_words(body: dict[str, Any]) -> int:
    parts = list((body.get("systemInstruction") or {}).get("parts") or ())
    parts += [part for content in body["contents"] for part in content.get("parts") or ()]
    return sum(len(part["text"].split()) for part in parts if isinstance(part.get("text"), str))
