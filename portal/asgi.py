"""ASGI entry point with two handlers: the data plane (/v1, service invocation) skips the control plane's
middleware (sessions, CSRF, auth, messages: each a thread hop per request under ASGI, and none needed
there); everything else gets the full Django stack."""

import gc
import os

from django.core.asgi import get_asgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

django_application = get_asgi_application()

from apps.gateway.asgi import DataPlaneHandler, is_data_plane_path, lifespan  # noqa: E402 - needs settings loaded
from apps.providers.clients.tokens import count_tokens  # noqa: E402

data_plane_application = DataPlaneHandler()
count_tokens("")  # load the tokenizer (~0.5 s) at start-up, not in the first request that needs an estimate
get_resolver().url_patterns  # import the URLconf (every view) now rather than in the first request  # noqa: B018
# The cyclic garbage collector, tuned for a server (bench/, README "Performance"). What exists now lives as
# long as the process: freeze it out of the collector's sight, or each full collection walks Django, the
# tokenizer and every view again (100-300 ms of stalled event loop, several times a minute under load). And
# a request leaves no reference cycle behind (apps/gateway/asgi.py), so collecting every 700 new objects —
# the default, i.e. every request or two — only re-scans the objects of requests in flight: at 1,000 slow
# clients that was a third of the worker's time. Every 50,000 bounds the uncollected garbage to a few MB.
gc.freeze()
gc.set_threshold(50_000, 20, 20)


async def application(scope, receive, send):
    if scope["type"] == "http" and is_data_plane_path(scope["path"]):
        return await data_plane_application(scope, receive, send)
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    return await django_application(scope, receive, send)
