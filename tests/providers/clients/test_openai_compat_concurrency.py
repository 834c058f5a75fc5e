"""One client instance carries many slow streams at once (the gateway's load: many clients, slow upstream)."""

from __future__ import annotations

import asyncio
import time

from apps.providers.clients.base import Upstream, Usage
from tests.conftest import FAKE_KEY

STREAMS = 200
UPSTREAM_DELAY = 0.5


async def test_200_slow_streams_through_one_client_run_concurrently(fake_upstream, openai_client):
    fake_upstream.mode = f"slow:{UPSTREAM_DELAY}"
    upstream = Upstream(fake_upstream.base_url, FAKE_KEY, "gpt-4o-mini", timeout=10)

    async def one_stream() -> tuple[str, Usage | None]:
        stream = openai_client.chat_stream(upstream, {"model": "a", "messages": [{"role": "user", "content": "hi"}]})
        text = "".join([chunk["choices"][0]["delta"].get("content", "") async for chunk in stream if chunk["choices"]])
        return text, stream.usage

    started = time.monotonic()
    results = await asyncio.gather(*(one_stream() for _ in range(STREAMS)))
    elapsed = time.monotonic() - started

    # Serially this takes STREAMS * UPSTREAM_DELAY = 100 s.
    assert elapsed < 5, f"{STREAMS} streams took {elapsed:.1f} s"
    assert results == [("This is a test.", Usage(1, 4))] * STREAMS
    assert len(fake_upstream.requests) == STREAMS
