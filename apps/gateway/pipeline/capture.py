"""Body capture of a service's calls, for its call log: masked and bounded on the data plane, before the record
leaves it (only services with `capture_bodies_days` pay for it)."""

from __future__ import annotations

from typing import Any

import orjson

from apps.gateway.pipeline.masking import mask_text
from apps.gateway.pipeline.records import CallRecord
from apps.gateway.pipeline.snapshot import ServiceEntry

CAPTURE_LIMIT = 64 * 1024  # characters kept of each body: storage and masking time stay bounded


def capture_bodies(record: CallRecord, service: ServiceEntry, request: Any, response: Any) -> None:
    """For a service that captures bodies: the request and response, masked, cut to CAPTURE_LIMIT."""
    if not service.capture_bodies_days:
        return
    texts = []
    for body in (request, response):
        text = body if isinstance(body, str) else orjson.dumps(body).decode()
        if len(text) > CAPTURE_LIMIT:
            text = f"{text[:CAPTURE_LIMIT]}… [{len(text) - CAPTURE_LIMIT} more characters not kept]"
        texts.append(mask_text(text)[0])
    record.bodies = (texts[0], texts[1], service.capture_bodies_days)
