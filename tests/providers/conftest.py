"""Provider fixtures: clients that are closed after each test (the fake upstream is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from apps.providers.clients.openai_compat import OpenAICompatibleClient


@pytest.fixture
async def openai_client() -> AsyncIterator[OpenAICompatibleClient]:
    client = OpenAICompatibleClient()
    yield client
    await client.aclose()
