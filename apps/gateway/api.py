"""The OpenAI-compatible surface, /v1 (django-ninja, async): thin adapters over the pipeline.

Bodies are parsed once (orjson) and validated once (the pydantic schemas, which also document the API);
ninja's own body parsing is bypassed for that reason."""

from __future__ import annotations

import time

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Router
from ninja.errors import HttpError

from apps.gateway.http import error_response, gateway_request, to_http_response
from apps.gateway.pipeline.errors import GatewayError, InvalidRequest
from apps.gateway.schemas import ChatCompletionIn, EmbeddingIn
from apps.gateway.wiring import get_pipeline

router = Router(tags=["OpenAI-compatible"])


def _body_doc(schema) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema.model_json_schema()}}}}


@router.post("/chat/completions", openapi_extra=_body_doc(ChatCompletionIn), summary="Create a chat completion")
async def chat_completions(request: HttpRequest) -> HttpResponse:
    """OpenAI's chat completions, stream or not, routed to the deployments of the named model alias."""
    return to_http_response(await get_pipeline().chat(gateway_request(request, ChatCompletionIn)))


@router.post("/embeddings", openapi_extra=_body_doc(EmbeddingIn), summary="Create embeddings")
async def embeddings(request: HttpRequest) -> HttpResponse:
    return to_http_response(await get_pipeline().embeddings(gateway_request(request, EmbeddingIn)))


@router.get("/models", summary="List the models this key may call")
async def models(request: HttpRequest) -> HttpResponse:
    return to_http_response(await get_pipeline().models(gateway_request(request)))


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
    return error_response(exc, started=time.perf_counter())


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    error = InvalidRequest(str(exc))
    error.status = exc.status_code
    return error_response(error)
