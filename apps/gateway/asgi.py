"""The data plane's ASGI handler: Django's, minus what costs time per request and serves nothing there.

bench/ measured each removal (README, "Performance"):
- no middleware: each sync middleware is a thread hop per request under ASGI;
- no ThreadSensitiveContext: it starts (and joins) an executor thread per request for thread-sensitive sync
  code, and nothing on this path runs such code;
- no request_started/request_finished signals: their receivers (close_old_connections, reset_queries,
  close_caches) recycle per-request database connections and caches, which the data plane never opens on
  the request path (no query per request), and sending them runs the sync receivers through
  sync_to_async — two more thread hops per request; likewise no closing of request.FILES (never parsed
  here), which Django does in yet another thread hop;
- each path is resolved once (a handful of /v1 paths, one per service for invoke), not on every request;
- no reference cycle per request (see `handle`), so the cyclic garbage collector has little to do;
- the body is read into memory, capped at GATEWAY_MAX_BODY_BYTES (an OpenAI-style 413 as soon as the cap
  is passed), instead of a SpooledTemporaryFile that would spool a huge body to disk before refusing it.
The async view, the logging of error responses and the cancellation of a view whose client went away stay
Django's; failures are answered in the callers' error envelope, never as Django's HTML or traceback pages."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import time
from functools import lru_cache

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.urls import ResolverMatch, URLResolver, get_resolver, set_script_prefix, set_urlconf
from django.utils.log import log_response

from apps.analytics.metrics import metrics_process_exit
from apps.gateway.http import error_response, server_error
from apps.gateway.pipeline.errors import InvalidRequest, PayloadTooLarge, UnknownURL

DATA_PLANE_PATH = re.compile(r"^/(v1/|api/v1/services/[^/]+/invoke/?$)")


def is_data_plane_path(path: str) -> bool:
    return DATA_PLANE_PATH.match(path) is not None


class BodyTooLarge(Exception):
    pass


@lru_cache(maxsize=512)
def _resolve(resolver: URLResolver, path: str) -> ResolverMatch:
    # Keyed by the resolver too: a changed URLconf (tests override it) comes with a new resolver object.
    return resolver.resolve(path)


class DataPlaneHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = self._answered_in_envelope

    async def _answered_in_envelope(self, request: HttpRequest) -> HttpResponseBase:
        """Django's handling of exceptions answers HTML (or a traceback with DEBUG): the data plane answers its
        callers' error envelope, whatever failed (a view's own errors are answered by the view)."""
        try:
            return await self._get_response_async(request)
        except Http404:
            return error_response(UnknownURL(f"Invalid URL ({request.method} {request.path})."), request)
        except Exception as exc:
            return server_error(request, exc)

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        request.resolver_match = _resolve(get_resolver(), request.path_info)
        return request.resolver_match

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        set_urlconf(settings.ROOT_URLCONF)
        response = await self._middleware_chain(request)
        if response.status_code >= 400:
            await sync_to_async(log_response, thread_sensitive=False)(
                "%s: %s", response.reason_phrase, request.path, response=response, request=request
            )
        return response

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"The data plane serves HTTP only, not {scope['type']}.")
        await self.handle(scope, receive, send)

    async def read_body(self, receive) -> io.BytesIO:
        limit = settings.GATEWAY_MAX_BODY_BYTES
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RequestAborted()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return io.BytesIO(b"".join(chunks))

    async def handle(self, scope, receive, send) -> None:
        received = time.perf_counter()
        try:
            body = await self.read_body(receive)
        except RequestAborted:
            return
        except BodyTooLarge:
            limit = settings.GATEWAY_MAX_BODY_BYTES
            too_large = PayloadTooLarge(f"The request body exceeds {limit} bytes.")
            await self.send_response(error_response(too_large, started=received, path=scope["path"]), send)
            return
        set_script_prefix(get_script_prefix(scope))
        request, refusal = self.create_request(scope, body)
        if request is None:  # Django's refusal is plain text or HTML; the caller expects the envelope
            limit = settings.GATEWAY_MAX_BODY_BYTES
            error = (
                PayloadTooLarge(f"The request body exceeds {limit} bytes.")
                if refusal.status_code == 413
                else InvalidRequest("The request could not be read: its path is not UTF-8.")
            )
            await self.send_response(error_response(error, started=received, path=scope["path"]), send)
            return

        async def process_request() -> HttpResponseBase:
            response = await self.run_get_response(request)
            with contextlib.suppress(asyncio.CancelledError):  # the client went away during the sending
                await self.send_response(response, send)
            return response

        # As in Django, a client that disconnects cancels its view (an upstream call in flight, a stream). Unlike
        # Django, the watcher returns instead of raising RequestAborted and is not awaited once cancelled: each
        # raise left a reference cycle (exception, traceback, this frame, the request and its response) for the
        # cyclic garbage collector, whose pauses showed in the p99 latency.
        watcher = asyncio.create_task(self._disconnected(receive))
        processor = asyncio.create_task(process_request())
        await asyncio.wait((watcher, processor), return_when=asyncio.FIRST_COMPLETED)
        watcher.cancel()
        if not processor.done():
            processor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await processor
            return
        response = processor.result()
        # Only file-like contents register closers (a /v1 response never has one): close those off the loop.
        if response._resource_closers:
            await sync_to_async(response.close)()

    @staticmethod
    async def _disconnected(receive) -> None:
        message = await receive()
        assert message["type"] == "http.disconnect", f"Invalid ASGI message after the body: {message['type']}"


async def lifespan(receive, send) -> None:
    """ASGI lifespan: at start-up, the embedded beat (no broker: this process may run the periodic tasks) and
    the configuration snapshot kept fresh in the background (poll, and with Redis the pushed changes);
    at shutdown, stop that, retire this process's live metrics, write buffered call records and close upstream
    connections."""
    from apps.gateway.wiring import get_embedded_beat, get_pipeline, get_snapshot_store

    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if settings.EMBEDDED_BEAT:
                get_embedded_beat().start()
            await get_snapshot_store().start()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                await get_snapshot_store().stop()
                metrics_process_exit(settings.PROMETHEUS_MULTIPROC_DIR)  # its breaker states go with the process
                if settings.EMBEDDED_BEAT:
                    await asyncio.to_thread(get_embedded_beat().stop)
                await get_pipeline().aclose()
            except Exception as exc:
                await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.shutdown.complete"})
            return
