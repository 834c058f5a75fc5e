from __future__ import annotations

import re

from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response

DATA_PLANE_PATH = re.compile(r"^/(v1/|api/v1/services/[^/]+/invoke/?$)")


def is_data_plane_path(path: str) -> bool:
    return DATA_PLANE_PATH.match(path) is not None


class DataPlaneHandler(ASGIHandler):
    """Django's ASGI handler with no middleware: URL resolution and the async view, nothing else."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        get_response = self._get_response_async if is_async else self._get_response
        self._middleware_chain = convert_exception_to_response(get_response)


async def lifespan(receive, send) -> None:
    """ASGI lifespan: at shutdown, write buffered call records and close upstream connections."""
    from apps.gateway.wiring import get_pipeline

    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                await get_pipeline().aclose()
            except Exception as exc:
                await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.shutdown.complete"})
            return
