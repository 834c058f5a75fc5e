"""/v1/messages runs the response cache step: the second identical message (streamed or not) is a hit that never
reaches the upstream, answered in Anthropic's shapes."""

from __future__ import annotations

import anthropic
import pytest

from tests.gateway.conftest import refresh_snapshot

pytestmark = pytest.mark.django_db(transaction=True)
HI = [{"role": "user", "content": "What is a cache?"}]


@pytest.fixture
def claude(gateway_setup, live_gateway, fake_upstream):
    gateway_setup.route.cache_ttl_seconds = 60
    gateway_setup.route.save()
    refresh_snapshot()
    fake_upstream.requests.clear()
    return anthropic.Anthropic(base_url=live_gateway, api_key=gateway_setup.secret, max_retries=0)


def test_the_second_identical_message_is_a_cache_hit(claude, fake_upstream):
    first = claude.messages.with_raw_response.create(model="smart", max_tokens=20, messages=HI)
    second = claude.messages.with_raw_response.create(model="smart", max_tokens=20, messages=HI)

    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
    assert second.parse().content == first.parse().content
    assert second.parse().content[0].text == fake_upstream.reply
    assert len(fake_upstream.requests) == 1


def test_a_streamed_message_is_served_from_the_cache_as_anthropic_events(claude, fake_upstream):
    claude.messages.create(model="smart", max_tokens=20, messages=HI)
    with claude.messages.stream(model="smart", max_tokens=20, messages=HI) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert text == fake_upstream.reply
    assert final.stop_reason == "end_turn"
    assert len(fake_upstream.requests) == 1
