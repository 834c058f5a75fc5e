"""A local fake of Azure OpenAI's data-plane API that speaks its wire format (held to it by the official `openai`
SDK's `AzureOpenAI` client in tests/providers/test_azure_fake.py).

    with FakeAzureOpenAIUpstream(api_key="azure-test") as fake:
        fake.base_url                    # http://127.0.0.1:PORT (the SDK's azure_endpoint)
        fake.deployments["chat"]         # deployment name -> the model it serves
        fake.script("filter_prompt")     # the next request is refused by the content filter
        fake.requests[-1].body           # what it received

It serves what the SDK calls for a resource: `POST /openai/deployments/{deployment}/chat/completions` and
`…/embeddings` (OpenAI's bodies, from tests/fakes/openai_wire.py, with Azure's `prompt_filter_results` and each
choice's `content_filter_results`; streams open with the prompt-filter chunk that has no choices, as Azure's do),
and `GET /openai/deployments` (the data-plane listing of api-version 2022-12-01). Every request needs
`api-version` (missing: 404 "Resource not found"; unknown: 400 "API version not supported") and the `api-key`
header when `api_key` is set (else 401 in Azure's envelope); an unknown deployment is a 404 DeploymentNotFound.

Modes, one per request (`script` queues them; `mode` is used when the queue is empty):
  ok                        answer normally
  status:CODE[:S]           answer CODE in Azure's envelope (429 also sends `retry-after` and `retry-after-ms`)
  filter_prompt[:CAT:SEV]   400 content_filter with innererror.content_filter_result (default hate, high)
  filter_completion[:CAT:SEV]  200, finish_reason content_filter and no text (streams: no text chunk either)
  filter_midstream          streams: two text chunks, then a content_filter finish chunk (violence, medium)
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from tests.fakes import openai_wire as wire
from tests.fakes.server import FakeServer, RecordedRequest, read_json

# Data-plane inference versions Azure documents (GA and the previews in use); the deployment listing exists in the
# oldest ones only.
API_VERSIONS = frozenset(
    {"2022-12-01", "2023-05-15", "2024-02-01", "2024-06-01", "2024-10-21", "2025-01-01-preview", "2025-04-01-preview"}
)
LIST_VERSIONS = frozenset({"2022-12-01", "2023-03-15-preview", "2023-05-15"})
CATEGORIES = ("hate", "self_harm", "sexual", "violence")
DEFAULT_DEPLOYMENTS = {"chat": "gpt-4o", "embed": "text-embedding-3-small", "legacy": "gpt-35-turbo"}
MODEL_VERSIONS = {"gpt-4o": "gpt-4o-2024-08-06", "gpt-35-turbo": "gpt-35-turbo-0125"}
_SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
BAD_KEY = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an "
    "active subscription and use a correct regional API endpoint for your resource."
)
NO_DEPLOYMENT = (
    "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, "
    "please wait a moment and try again."
)
FILTERED_PROMPT = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify "
    "your prompt and retry. To learn more about our content filtering policies please read our documentation: "
    "https://go.microsoft.com/fwlink/?linkid=2198766"
)


class FakeAzureOpenAIUpstream(FakeServer):
    thread_name = "fake-azure-openai"

    def __init__(self, *, api_key: str | None = None, reply: str = "This is a test.") -> None:
        super().__init__()
        self.api_key = api_key
        self.reply = reply
        self.deployments: dict[str, str] = dict(DEFAULT_DEPLOYMENTS)
        self.requests: list[RecordedRequest] = []

    @property
    def base_url(self) -> str:
        return self.origin

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/openai/deployments/{deployment}/chat/completions", self._chat)
        router.add_post("/openai/deployments/{deployment}/embeddings", self._embeddings)
        router.add_get("/openai/deployments", self._list)

    async def _receive(self, request: web.Request, *, versions: frozenset[str] = API_VERSIONS) -> tuple[Any, str, Any]:
        body = await read_json(request)
        self.requests.append(
            RecordedRequest(request.method, request.path, dict(request.query), CIMultiDict(request.headers), body)
        )
        mode = self.next_mode()
        if self.api_key is not None and request.headers.get("api-key") != self.api_key:
            return body, mode, error(401, "401", BAD_KEY)
        version = request.query.get("api-version")
        if not version:
            return body, mode, error(404, "404", "Resource not found")
        if version not in versions:
            if version in API_VERSIONS | LIST_VERSIONS:  # a version Azure has, without this operation
                return body, mode, error(404, "404", "Resource not found")
            return body, mode, error(400, "BadRequest", "API version not supported")
        deployment = request.match_info.get("deployment")
        if deployment is not None and deployment not in self.deployments:
            return body, mode, error(404, "DeploymentNotFound", NO_DEPLOYMENT)
        if deployment is not None and not isinstance(body, dict):
            return body, mode, error(400, None, "We could not parse the JSON body of your request.")
        name, _, argument = mode.partition(":")
        if name == "status":
            return body, mode, _status(argument)
        if name == "filter_prompt":
            return body, mode, prompt_filtered(*(argument.split(":") if argument else ("hate", "high")))
        return body, mode, None

    async def _list(self, request: web.Request) -> web.Response:
        _, _, early = await self._receive(request, versions=LIST_VERSIONS)
        if early is not None:
            return early
        data = [
            {
                "scale_settings": {"scale_type": "standard"},
                "model": model,
                "owner": "organization-owner",
                "id": name,
                "status": "succeeded",
                "created_at": 1718000000,
                "updated_at": 1718000000,
                "object": "deployment",
            }
            for name, model in self.deployments.items()
        ]
        return web.json_response({"data": data, "object": "list"})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body, mode, early = await self._receive(request)
        if early is not None:
            return early
        if "messages" not in body:
            return error(400, None, "'messages' is a required property", param="messages")
        model = self._model(request)
        name, _, argument = mode.partition(":")
        verdict = tuple(argument.split(":")) if argument else ("hate", "high")
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks = wire.chunks(model, body["messages"], self.reply, include_usage=include_usage)
            for chunk in chunks:
                for choice in chunk["choices"]:
                    choice["content_filter_results"] = {} if "role" in choice["delta"] else safe()
            usage = chunks[-1:] if include_usage else []
            if name == "filter_completion":
                chunks = [chunks[0], _filter_chunk(chunks[0], *verdict), *usage]
            elif name == "filter_midstream":
                chunks = [*chunks[:3], _filter_chunk(chunks[0], "violence", "medium"), *usage]
            return await _stream(request, [_prompt_filter_chunk(), *chunks])
        answer = wire.completion(model, body["messages"], self.reply)
        answer["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": safe()}]
        choice = answer["choices"][0]
        choice["content_filter_results"] = safe()
        if name == "filter_completion":
            choice["message"]["content"] = None
            choice["finish_reason"] = "content_filter"
            choice["content_filter_results"] = results(*verdict)
        return web.json_response(answer, headers=_request_id())

    async def _embeddings(self, request: web.Request) -> web.Response:
        body, _, early = await self._receive(request)
        if early is not None:
            return early
        if not body.get("input"):
            return error(400, None, "'input' is a required property", param="input")
        answer = wire.embeddings(
            self._model(request), body["input"], body.get("dimensions"), body.get("encoding_format")
        )
        return web.json_response(answer, headers=_request_id())

    def _model(self, request: web.Request) -> str:
        model = self.deployments[request.match_info["deployment"]]
        return MODEL_VERSIONS.get(model, model)


def safe() -> dict[str, Any]:
    return {category: {"filtered": False, "severity": "safe"} for category in CATEGORIES}


def results(category: str, severity: str) -> dict[str, Any]:
    return {**safe(), category: {"filtered": True, "severity": severity}}


def prompt_filtered(category: str, severity: str) -> web.Response:
    """Azure's answer to a prompt its content filter blocks."""
    inner = {"code": "ResponsibleAIPolicyViolation", "content_filter_result": results(category, severity)}
    inner["content_filter_result"]["jailbreak"] = {"filtered": False, "detected": False}
    body = {
        "error": {
            "message": FILTERED_PROMPT,
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": inner,
        }
    }
    return web.json_response(body, status=400, headers=_request_id())


def error(status: int, code: str | None, message: str, *, param: str | None = None, headers=None) -> web.Response:
    """Azure's envelope: OpenAI's fields where it has them, its own codes ("401", "DeploymentNotFound"…)."""
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if status == 400 and code is None:
        body["error"].update(type="invalid_request_error", param=param)
    return web.json_response(body, status=status, headers={**_request_id(), **(headers or {})})


def _status(argument: str) -> web.Response:
    code, _, wait = argument.partition(":")
    headers = (
        {"retry-after": wait or "1", "retry-after-ms": str(int(float(wait or "1") * 1000))} if code == "429" else {}
    )
    messages = {
        429: "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have "
        "exceeded token rate limit of your current pricing tier. Please retry after 1 second.",
        500: "The server had an error while processing your request. Sorry about that!",
    }
    status = int(code)
    return error(status, str(status), messages.get(status, f"Scripted HTTP {status}."), headers=headers)


def _prompt_filter_chunk() -> dict[str, Any]:
    return {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": safe()}],
    }


def _filter_chunk(first: dict[str, Any], category: str, severity: str) -> dict[str, Any]:
    choice = {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "content_filter",
        "content_filter_results": results(category, severity),
    }
    return {**first, "choices": [choice]}


async def _stream(request: web.Request, chunks: list[dict[str, Any]]) -> web.StreamResponse:
    response = web.StreamResponse(headers={**_SSE_HEADERS, **_request_id()})
    await response.prepare(request)
    with contextlib.suppress(ConnectionResetError):
        for chunk in chunks:
            await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
    return response


def _request_id() -> dict[str, str]:
    return {"apim-request-id": str(uuid.uuid4()), "x-request-id": str(uuid.uuid4())}
