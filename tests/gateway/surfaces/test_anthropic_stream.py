"""OpenAI chunks → Anthropic's streaming events (apps/gateway/surfaces/anthropic_stream.py), against the event
sequences Anthropic documents (docs: "Streaming Messages"), with the wire framing checked byte for byte."""

from __future__ import annotations

import orjson

from apps.gateway.pipeline.errors import UpstreamError
from apps.gateway.pipeline.streams import replay
from apps.gateway.surfaces.anthropic_answer import answer_to_anthropic
from apps.gateway.surfaces.anthropic_stream import MessageStream

ENVELOPE = {"id": "chatcmpl-1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "object": "chat.completion.chunk", "created": 0}
MODEL = "claude-opus-4-20250514"


def chunk(delta=None, finish_reason=None, *, usage=None):
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    return {**ENVELOPE, "model": MODEL, "choices": choices, "usage": usage}


def stream_of(chunks):
    events = MessageStream(model="alias")
    return b"".join(filter(None, (events.render(c) for c in chunks))) + b"".join(events.done())


def parsed(wire: bytes):
    blocks = wire.decode().removesuffix("\n\n").split("\n\n")
    result = []
    for block in blocks:
        event, data = block.split("\n")
        assert event.startswith("event: ")
        assert data.startswith("data: ")
        result.append((event.removeprefix("event: "), orjson.loads(data.removeprefix("data: "))))
    return result


def test_the_documented_basic_stream():
    usage = {"prompt_tokens": 25, "completion_tokens": 15, "total_tokens": 40}
    wire = stream_of(
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hello"}),
            chunk({"content": "!"}),
            chunk({}, "stop"),
            chunk(usage=usage),
        ]
    )
    # The documented sequence; the one difference: OpenAI reports usage only at the end, so message_start carries
    # zero tokens and message_delta the counts (input included, as Anthropic's own message_delta may).
    start = {
        "id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": MODEL,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }
    assert parsed(wire) == [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        ("ping", {"type": "ping"}),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"input_tokens": 25, "output_tokens": 15},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    # The framing, byte for byte: an event line, a data line of compact JSON, a blank line.
    assert wire.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert b'event: ping\ndata: {"type":"ping"}\n\n' in wire


def test_a_tool_use_stream():
    call = {"index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function"}
    wire = stream_of(
        [
            chunk({"role": "assistant", "content": None}),
            chunk({"content": "Okay, let's check."}),
            chunk({"tool_calls": [{**call, "function": {"name": "get_weather", "arguments": ""}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"location":'}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "San Francisco, CA"}'}}]}),
            chunk({}, "tool_calls"),
        ]
    )
    events = parsed(wire)
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    tool_block = {"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather", "input": {}}
    assert events[5][1] == {"type": "content_block_start", "index": 1, "content_block": tool_block}
    assert events[6][1]["delta"] == {"type": "input_json_delta", "partial_json": '{"location":'}
    assert events[7][1]["index"] == 1
    assert events[9][1]["delta"]["stop_reason"] == "tool_use"
    assert events[9][1]["usage"] == {"input_tokens": 0, "output_tokens": 0}  # the upstream sent none


def test_tool_arguments_that_are_not_json_end_the_stream_with_an_error_event():
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": '}}
    events = parsed(stream_of([chunk({"tool_calls": [call]}), chunk({}, "tool_calls")]))
    assert events[-1][0] == "error"
    assert events[-1][1]["error"]["type"] == "api_error"
    assert "message_stop" not in [name for name, _ in events]


def test_a_failure_midway_is_an_error_event():
    assert MessageStream.error(UpstreamError("The upstream stream failed.")) == (
        b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"The upstream stream failed."}}\n\n'
    )


def test_a_replayed_answer_streams_the_same_message_as_the_answer():
    # A step's answer (a cache hit) on a streamed request is replayed as chunks: the events add up to the message.
    answer = {
        "id": "chatcmpl-9",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
    events = parsed(stream_of(replay(answer, include_usage=True)))
    message = answer_to_anthropic(answer, model="alias")
    assert events[0][1]["message"]["id"] == message["id"]
    assert "".join(e["delta"]["text"] for name, e in events if name == "content_block_delta") == "Hi"
    assert events[-2][1]["usage"] == message["usage"]
    assert events[-2][1]["delta"]["stop_reason"] == message["stop_reason"]
