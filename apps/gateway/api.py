"""The OpenAI-compatible surface, /v1 (django-ninja, async): thin adapters over the pipeline.

Bodies are parsed once (orjson) and validated once (the pydantic schemas, which also document the API);
ninja's own body parsing is bypassed for that reason. Whatever happens under /v1 is answered in OpenAI's
error envelope, as OpenAI's SDKs expect: an unknown path, a wrong method, an unexpected failure."""

from __future__ import annotations

import inspect
import re

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Router
from ninja.errors import HttpError

from apps.gateway.http import (
    anthropic_api_key_from,
    checked_request,
    error_response,
    gateway_request,
    parse_json_body,
    server_error,
    to_http_response,
)
from apps.gateway.pipeline.errors import GatewayError, InvalidRequest, MethodNotAllowed, UnknownURL
from apps.gateway.schemas import ChatCompletionIn, EmbeddingIn
from apps.gateway.surfaces import anthropic_serve
from apps.gateway.surfaces import openai_responses_serve as responses_serve
from apps.gateway.wiring import get_pipeline, get_response_store

router = Router(tags=["OpenAI-compatible"])

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def _body_doc(schema) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema.model_json_schema()}}}}


def _add_refusal(path: str, methods: list[str], refuse) -> None:
    """Register `refuse(request)` for `methods` on `path`, out of the OpenAPI document."""

    async def view(request: HttpRequest, **_path_params: str) -> HttpResponse:
        raise refuse(request)

    # ninja matches a path's parameters to the view's signature: declare them, so it passes them quietly.
    names = re.findall(r"\{(?:\w+:)?(\w+)\}", path)
    view.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=HttpRequest)]
        + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=str) for name in names]
    )
    url_name = "refuse-" + re.sub(r"\W+", "-", path).strip("-")  # no ":" in a URL name (urls.W003)
    router.add_api_operation(path, methods, view, include_in_schema=False, url_name=url_name)


def _only(path: str, allowed: str) -> None:
    """The other methods on an endpoint's path: a 405 in the envelope (ninja's own is plain text)."""

    def refuse(request: HttpRequest) -> GatewayError:
        message = f"Invalid method for URL ({request.method} {request.path}): use {allowed}."
        return MethodNotAllowed(message, allow=allowed)

    _add_refusal(path, [method for method in _METHODS if method != allowed], refuse)


def _unknown(request: HttpRequest) -> GatewayError:
    return UnknownURL(f"Invalid URL ({request.method} {request.path}).")


@router.post("/chat/completions", openapi_extra=_body_doc(ChatCompletionIn), summary="Create a chat completion")
async def chat_completions(request: HttpRequest) -> HttpResponse:
    """OpenAI's chat completions, stream or not, routed to the deployments of the named model alias."""
    req, refusal = checked_request(request, ChatCompletionIn)
    if refusal is not None:
        return to_http_response(await get_pipeline().refuse(req, refusal, endpoint="chat"))
    return to_http_response(await get_pipeline().chat(req))


@router.post("/embeddings", openapi_extra=_body_doc(EmbeddingIn), summary="Create embeddings")
async def embeddings(request: HttpRequest) -> HttpResponse:
    req, refusal = checked_request(request, EmbeddingIn)
    if refusal is not None:
        return to_http_response(await get_pipeline().refuse(req, refusal, endpoint="embeddings"))
    return to_http_response(await get_pipeline().embeddings(req))


@router.get("/models", summary="List the models this key may call")
async def models(request: HttpRequest) -> HttpResponse:
    return to_http_response(await get_pipeline().models(gateway_request(request)))


# `path:` because aliases may hold slashes (`meta-llama/Llama-3-8B`); the SDKs send them percent-encoded.
@router.get("/models/{path:model_id}", summary="Retrieve a model this key may call")
async def model(request: HttpRequest, model_id: str) -> HttpResponse:
    return to_http_response(await get_pipeline().models(gateway_request(request), model_id))


async def _anthropic(request: HttpRequest, serve) -> HttpResponse:
    """Anthropic's Messages API: key in x-api-key (or Authorization), errors in Anthropic's shape
    (apps/gateway/surfaces/)."""
    req = gateway_request(request)
    req.api_key = anthropic_api_key_from(request)
    try:
        body = parse_json_body(request)
    except GatewayError as refusal:
        refused = await get_pipeline().refuse(req, refusal, endpoint=anthropic_serve.ENDPOINT)
        return to_http_response(anthropic_serve.in_anthropic_shape(refused))
    version = request.META.get("HTTP_ANTHROPIC_VERSION")
    return to_http_response(await serve(get_pipeline(), req, body, version=version))


@router.post("/messages", summary="Create a message (Anthropic Messages API)", tags=["Anthropic-compatible"])
async def messages(request: HttpRequest) -> HttpResponse:
    return await _anthropic(request, anthropic_serve.messages)


@router.post(
    "/messages/count_tokens",
    summary="Count a message's input tokens (the gateway's estimate)",
    tags=["Anthropic-compatible"],
)
async def count_tokens(request: HttpRequest) -> HttpResponse:
    return await _anthropic(request, anthropic_serve.count)


@router.post("/responses", summary="Create a model response (OpenAI Responses API)")
async def responses(request: HttpRequest) -> HttpResponse:
    """OpenAI's Responses API, stream or not, on any route (apps/gateway/surfaces/openai_responses*.py)."""
    req = gateway_request(request)
    try:
        body = parse_json_body(request)
    except GatewayError as refusal:
        return to_http_response(await get_pipeline().refuse(req, refusal, endpoint=responses_serve.ENDPOINT))
    return to_http_response(await responses_serve.create(get_pipeline(), get_response_store(), req, body))


@router.get("/responses/{response_id}", summary="Retrieve a stored model response")
async def response_get(request: HttpRequest, response_id: str) -> HttpResponse:
    store = get_response_store()
    return to_http_response(
        await responses_serve.retrieve(get_pipeline(), store, gateway_request(request), response_id)
    )


@router.delete("/responses/{response_id}", summary="Delete a stored model response")
async def response_delete(request: HttpRequest, response_id: str) -> HttpResponse:
    req, store = gateway_request(request), get_response_store()
    return to_http_response(await responses_serve.retrieve(get_pipeline(), store, req, response_id, delete=True))


_only("/chat/completions", "POST")
_only("/responses", "POST")
_add_refusal(
    "/responses/{response_id}",
    ["POST", "PUT", "PATCH", "HEAD", "OPTIONS"],
    lambda request: MethodNotAllowed(
        f"Invalid method for URL ({request.method} {request.path}): use GET or DELETE.", allow="GET, DELETE"
    ),
)
_only("/messages", "POST")
_only("/messages/count_tokens", "POST")
_only("/embeddings", "POST")
_only("/models", "GET")
_only("/models/{path:model_id}", "GET")
# Last, so that they match only what no endpoint does (ninja keeps the order of registration).
_add_refusal("/{path:unknown}", list(_METHODS), _unknown)
_add_refusal("", list(_METHODS), _unknown)

api = NinjaAPI(
    title="AI Gateway: OpenAI-compatible API",
    version="1.0.0",
    urls_namespace="gateway-v1",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
api.add_router("", router)


@api.exception_handler(GatewayError)
def gateway_error(request: HttpRequest, exc: GatewayError) -> HttpResponse:
    return error_response(exc, request)


@api.exception_handler(Exception)
def unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    return server_error(request, exc)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    error = InvalidRequest(str(exc))
    error.status = exc.status_code
    return error_response(error, request)
