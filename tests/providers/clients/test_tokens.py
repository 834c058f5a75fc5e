"""Token counting for usage estimates: tiktoken's o200k_base, loaded from a bundled file, offline."""

from __future__ import annotations

import socket

import orjson
import pytest

from apps.providers.clients import tokens
from apps.providers.clients.tokens import count_input_tokens, count_message_tokens, count_tokens


def test_counts_match_o200k_base():
    # Token ids of these strings in o200k_base: "Hello" "," " world" "!" and "t" "ik" "token" " is" " great" "!".
    assert count_tokens("Hello, world!") == 4
    assert count_tokens("tiktoken is great!") == 6
    assert count_tokens("The quick brown fox jumps over the lazy dog.") == 10
    assert count_tokens("") == 0


def test_special_token_strings_count_as_text():
    assert count_tokens("<|endoftext|>") == 7


def test_the_encoding_loads_without_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    tokens._encoding.cache_clear()

    assert count_tokens("Hello, world!") == 4


def test_a_tampered_vocabulary_file_is_refused(monkeypatch):
    monkeypatch.setattr(tokens, "_SHA256", "0" * 64)
    tokens._encoding.cache_clear()

    with pytest.raises(RuntimeError, match="SHA-256 mismatch"):
        count_tokens("Hello")
    tokens._encoding.cache_clear()


def test_a_one_word_prompt_costs_what_openai_bills():
    # gpt-4o reports prompt_tokens=8 for this request: 3 per message + "user" + "Hello" + 3 for the reply.
    assert count_message_tokens([{"role": "user", "content": "Hello"}]) == 8


def test_content_parts_count_their_text_and_images_count_a_flat_85():
    as_string = [{"role": "user", "content": "Hello"}]
    as_parts = [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 10_000}}

    assert count_message_tokens(as_parts) == count_message_tokens(as_string)
    with_image = [{"role": "user", "content": [{"type": "text", "text": "Hello"}, image]}]
    assert count_message_tokens(with_image) == count_message_tokens(as_string) + 85


def test_names_and_tool_calls_are_counted():
    named = [{"role": "user", "content": "Hello", "name": "bob"}]
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    with_call = [{"role": "assistant", "content": None, "tool_calls": [call]}]

    assert count_message_tokens(named) == 8 + count_tokens("bob") + 1
    assert count_message_tokens(with_call) == (
        6
        + count_tokens("assistant")
        + count_tokens("call_1")
        + count_tokens("get_weather")
        + count_tokens('{"city": "Paris"}')
    )


def test_embedding_inputs_count_texts_and_pre_tokenized_arrays():
    assert count_input_tokens("Hello, world!") == 4
    assert count_input_tokens(["Hello, world!", "Hello"]) == 5
    assert count_input_tokens([15339, 1917]) == 2
    assert count_input_tokens([[15339, 1917], [0]]) == 3


TEXTS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog. " * 40,
    "東京の天気はどうですか。明日は雨が降りますか。",  # three bytes a character, often a token each
    "🙂🚀👍🏽 emoji carry four bytes",
    "def f(x):\n    return {'a': [1, 2, 3]}\n\n\t# code\r\n",
    "1234567890" * 30,
    "     \n\n\n     many      spaces",
    "<|endoftext|><|endofprompt|>",
    "Ünïcödé àccénts, ß, ø, and Ελληνικά, Русский, עברית, العربية",
]


@pytest.mark.parametrize("text", TEXTS)
def test_the_bound_a_budget_reserves_is_never_below_the_count(text):
    messages = [
        {"role": "system", "content": text},
        {"role": "user", "name": "ann", "content": [{"type": "text", "text": text}, {"type": "image_url",
                                                     "image_url": {"url": "https://img.example/cat.png"}}]},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                              "function": {"name": "lookup", "arguments": '{"q": "' + text + '"}'}}]},
    ]  # fmt: skip
    assert tokens.prompt_tokens_at_most({"messages": messages}) >= count_message_tokens(messages)
    assert tokens.prompt_tokens_at_most({"input": [text, text]}) >= count_input_tokens([text, text])


def test_the_bound_counts_tools_bytes_and_pre_tokenized_inputs():
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "maxLength": 12}}}
    bare = tokens.prompt_tokens_at_most({"messages": [{"role": "user", "content": "hi"}]})
    assert bare == 3 + 4 + len("user") + len("hi")
    with_tools = tokens.prompt_tokens_at_most({"messages": [{"role": "user", "content": "hi"}], "tools": [tool]})
    assert with_tools == bare + len(orjson.dumps([tool]))
    assert tokens.prompt_tokens_at_most({"input": [1, 2, 3]}) == 3
    assert tokens.prompt_tokens_at_most({"input": [[1, 2], [3]]}) == 3
    assert tokens.prompt_tokens_at_most({"input": "né"}) == 3
