"""ASGI entry point with two handlers: the data plane (/v1, service invocation) skips the control plane's
middleware (sessions, CSRF, auth, messages: each a thread hop per request under ASGI, and none needed
there); everything else gets the full Django stack."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

django_application = get_asgi_application()

from apps.gateway.asgi import DataPlaneHandler, is_data_plane_path, lifespan  # noqa: E402 - needs settings loaded
from apps.providers.clients.tokens import count_tokens  # noqa: E402

data_plane_application = DataPlaneHandler()
count_tokens("")  # load the tokenizer (~0.5 s) at start-up, not in the first request that needs an estimate


async def application(scope, receive, send):
    if scope["type"] == "http" and is_data_plane_path(scope["path"]):
        return await data_plane_application(scope, receive, send)
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    return await django_application(scope, receive, send)
