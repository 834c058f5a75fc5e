"""Provider fixtures: a fake OpenAI upstream, and clients that are closed after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from apps.providers.clients.openai_compat import OpenAICompatibleClient
from tests.fakes.openai_upstream import FakeOpenAIUpstream

FAKE_KEY = "sk-test-fake-key"


@pytest.fixture
def fake_upstream() -> Iterator[FakeOpenAIUpstream]:
    """A fake OpenAI API on 127.0.0.1 that requires the Bearer key FAKE_KEY."""
    with FakeOpenAIUpstream(api_key=FAKE_KEY) as fake:
        yield fake


@pytest.fixture
async def openai_client() -> AsyncIterator[OpenAICompatibleClient]:
    client = OpenAICompatibleClient()
    yield client
    await client.aclose()
