"""Prompt contents for the tests: a good version 1, and the bad inputs every save must refuse."""

from __future__ import annotations

import pytest

SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string"}, "words": {"type": "integer", "minimum": 1}},
    "required": ["text"],
}
VERSION_1 = {
    "system_template": "You summarize text.",
    "user_template": "Summarize in {{ words }} words: {{ text }}",
    "variables_schema": SCHEMA,
    "examples": [{"user": "Summarize in 2 words: the cat sat on the mat", "assistant": "cat sat"}],
    "parameters": {"temperature": 0.2, "max_tokens": 200},
}


def version_input(**overrides) -> dict:
    """The content of a version like version 1, with `overrides`."""
    return {**VERSION_1, **overrides}


# (id, overrides, field the refusal names)
BAD_VERSIONS = [
    pytest.param({"user_template": "Summarize {{ text "}, "user_template", id="user-syntax-error"),
    pytest.param({"system_template": "{% if %}"}, "system_template", id="system-syntax-error"),
    pytest.param({"user_template": "{% include 'x' %}{{ text }}"}, "user_template", id="include"),
    pytest.param({"user_template": "Summarize {{ txet }}"}, "user_template", id="undeclared-in-user"),
    pytest.param({"system_template": "Tone: {{ tone }}"}, "system_template", id="undeclared-in-system"),
    pytest.param({"user_template": "{{ config }}"}, "user_template", id="undeclared-config"),
    pytest.param({"user_template": "{{ text|nosuchfilter }}"}, "user_template", id="unknown-filter"),
    pytest.param({"system_template": "{{ 1 is nosuchtest }}"}, "system_template", id="unknown-test"),
    pytest.param({"user_template": "{{ text }}" + "x" * 100_000}, "user_template", id="template-too-long"),
    pytest.param({"user_template": "{{ text }}" * 2001}, "user_template", id="too-many-tags"),
    pytest.param({"user_template": "{{ " + " ~ ".join(["text"] * 10_001) + " }}"}, "user_template", id="too-large"),
    pytest.param({"user_template": "{{ " + "(" * 3000 + "text" + ")" * 3000 + " }}"}, "user_template", id="too-deep"),
    pytest.param({"user_template": "{{ " + "9" * 5000 + " }}"}, "user_template", id="integer-too-long"),
    pytest.param({"user_template": "  "}, "user_template", id="empty-user"),
    pytest.param({"variables_schema": {"type": "array"}}, "variables_schema", id="schema-not-object"),
    pytest.param({"variables_schema": ["text"]}, "variables_schema", id="schema-not-a-dict"),
    pytest.param(
        {"variables_schema": {"type": "object", "properties": {"text": {"type": "strang"}}}},
        "variables_schema",
        id="schema-invalid-type",
    ),
    pytest.param(
        {"variables_schema": {"type": "object", "properties": ["text"]}}, "variables_schema", id="schema-bad-properties"
    ),
    pytest.param({"examples": [{"user": "hi"}]}, "examples", id="example-without-answer"),
    pytest.param({"examples": [{"user": "hi", "assistant": 3}]}, "examples", id="example-not-text"),
    pytest.param({"examples": {"user": "hi", "assistant": "yo"}}, "examples", id="examples-not-a-list"),
    pytest.param({"parameters": {"temprature": 0.5}}, "parameters", id="unknown-parameter"),
    pytest.param({"parameters": {"temperature": 2.5}}, "parameters", id="temperature-too-high"),
    pytest.param({"parameters": {"temperature": "hot"}}, "parameters", id="temperature-not-a-number"),
    pytest.param({"parameters": {"top_p": True}}, "parameters", id="top-p-boolean"),
    pytest.param({"parameters": {"max_tokens": 0}}, "parameters", id="max-tokens-zero"),
    pytest.param({"parameters": {"max_tokens": 10.5}}, "parameters", id="max-tokens-not-integer"),
    pytest.param({"parameters": {"presence_penalty": -3}}, "parameters", id="penalty-out-of-range"),
    pytest.param({"parameters": {"stop": [1]}}, "parameters", id="stop-not-text"),
    pytest.param({"parameters": {"stop": ["a", "b", "c", "d", "e"]}}, "parameters", id="too-many-stops"),
    pytest.param({"parameters": {"seed": "42"}}, "parameters", id="seed-not-integer"),
    pytest.param({"change_note": "x" * 301}, "change_note", id="change-note-too-long"),
]
