"""The pure builders of a service's documentation: OpenAPI document, example body, input table, snippets and
sanitized Markdown. No database."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from jsonschema import Draft202012Validator

from apps.catalog import docs
from apps.catalog.openapi import service_openapi
from tests.catalog.conftest import SENTIMENT_INPUT, SENTIMENT_OUTPUT

NESTED = {
    "type": "object",
    "required": ["customer"],
    "properties": {
        "customer": {
            "type": "object",
            "required": ["email"],
            "properties": {"email": {"type": "string", "format": "email"}, "age": {"type": "integer", "minimum": 18}},
        },
        "items": {"type": "array", "items": {"$ref": "#/$defs/item"}, "maxItems": 10},
        "tone": {"enum": ["formal", "casual"], "default": "casual"},
        "note": {"type": ["string", "null"], "examples": ["call me"]},
        "urgent": {"type": "boolean"},
    },
    "$defs": {"item": {"type": "object", "properties": {"sku": {"type": "string"}, "qty": {"type": "number"}}}},
}


def service(**overrides):
    fields = {
        "slug": "sentiment",
        "name": "Sentiment",
        "summary": "Is it positive?",
        "description": "Classifies text.",
        "kind": "prompt",
        "lifecycle": "published",
        "input_schema": SENTIMENT_INPUT,
        "output_mode": "json",
        "output_schema": SENTIMENT_OUTPUT,
        "updated_at": datetime(2025, 1, 31, tzinfo=UTC),
    }
    return SimpleNamespace(**{**fields, **overrides})


def test_the_openapi_document_has_one_invoke_operation_built_from_the_schemas():
    document = service_openapi(service(), server_url="https://portal.example")
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "https://portal.example"}]
    assert list(document["paths"]) == ["/api/v1/services/sentiment/invoke"]
    operation = document["paths"]["/api/v1/services/sentiment/invoke"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SentimentInput"
    }
    assert document["components"]["schemas"]["SentimentInput"] == SENTIMENT_INPUT
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["properties"]["output"] == {"$ref": "#/components/schemas/SentimentOutput"}
    assert document["components"]["schemas"]["SentimentOutput"] == SENTIMENT_OUTPUT
    assert set(answer["required"]) == {"output", "usage", "version", "request_id"}
    assert "text/event-stream" in operation["responses"]["200"]["content"]
    assert {p["name"] for p in operation["parameters"]} == {"stream"}
    assert {"400", "401", "403", "404", "429", "502"} <= set(operation["responses"])
    assert operation["responses"]["429"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert document["security"] == [{"apiKey": []}]
    assert operation["deprecated"] is False


def test_every_schema_in_the_document_is_valid_json_schema():
    document = service_openapi(service(), server_url="https://portal.example")
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    operation = document["paths"]["/api/v1/services/sentiment/invoke"]["post"]
    Draft202012Validator.check_schema(operation["responses"]["200"]["content"]["application/json"]["schema"])
    json.dumps(document)  # serializable as is


def test_a_text_service_answers_a_string_and_a_deprecated_one_says_so():
    document = service_openapi(service(output_mode="text", lifecycle="deprecated"), server_url="")
    operation = document["paths"]["/api/v1/services/sentiment/invoke"]["post"]
    output = operation["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["output"]
    assert output["type"] == "string"
    assert operation["deprecated"] is True


def test_the_example_body_follows_the_schema_and_validates_against_it():
    body = docs.example_body(NESTED)
    assert body == {
        "customer": {"email": "user@example.com", "age": 18},
        "items": [{"sku": "<sku>", "qty": 1.5}],
        "tone": "casual",
        "note": "call me",
        "urgent": True,
    }
    Draft202012Validator(NESTED).validate(body)


@pytest.mark.parametrize("schema", [{}, {"type": "object"}, {"$ref": "#/nowhere"}])
def test_a_schema_without_fields_gives_an_empty_body(schema):
    assert docs.example_body(schema) == {}


def test_a_self_referencing_schema_ends():
    schema = {"type": "object", "properties": {"child": {"$ref": "#"}}}
    assert isinstance(docs.example_body(schema), dict)


def test_the_input_table_flattens_nested_fields():
    rows = {row.name: row for row in docs.input_fields(NESTED)}
    assert list(rows) == [
        "customer",
        "customer.email",
        "customer.age",
        "items",
        "items[].sku",
        "items[].qty",
        "tone",
        "note",
        "urgent",
    ]
    assert (rows["customer"].required, rows["customer.email"].required, rows["items"].required) == (True, True, False)
    assert rows["customer.age"].constraints == "≥ 18"
    assert rows["items"].type == "array of object"
    assert rows["tone"].type == 'one of "formal", "casual"'
    assert rows["note"].type == "string or null"


BODY = {"text": 'it\'s "quoted" — and unicode', "flags": [True, None], "n": 2}


def test_the_python_snippet_is_valid_python_sending_the_body():
    snippet = docs.python_snippet(url="https://portal.example/api/v1/services/s/invoke", body=BODY)
    tree = ast.parse(snippet)
    payload = next(node for node in tree.body if isinstance(node, ast.Assign) and node.targets[0].id == "payload")
    assert ast.literal_eval(payload.value) == BODY
    assert "httpx.post(" in snippet
    assert "GATEWAY_API_KEY" in snippet


def test_the_curl_snippet_quotes_the_body_for_the_shell():
    snippet = docs.curl_snippet(url="https://portal.example/api/v1/services/s/invoke", body=BODY)
    quoted = snippet.split(" -d '", 1)[1].rsplit("'", 1)[0]
    assert json.loads(quoted.replace("'\\''", "'")) == BODY
    assert '-H "Authorization: Bearer $GATEWAY_API_KEY"' in snippet


def test_the_javascript_snippet_posts_the_body_with_fetch():
    snippet = docs.javascript_snippet(url="https://portal.example/api/v1/services/s/invoke", body=BODY)
    literal = snippet.split("JSON.stringify(", 1)[1].rsplit("),\n});", 1)[0]
    assert json.loads(literal) == BODY
    assert 'fetch("https://portal.example/api/v1/services/s/invoke"' in snippet
    assert "process.env.GATEWAY_API_KEY" in snippet


def test_snippets_has_the_three_languages():
    assert set(docs.snippets(url="u", body={})) == {"curl", "python", "javascript"}


@pytest.mark.parametrize(
    "markdown",
    [
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        "[click](javascript:alert(1))",
        '<a href="#" onclick="alert(1)">x</a>',
        "<iframe src='https://evil.example'></iframe>",
    ],
)
def test_markdown_is_sanitized(markdown):
    html = docs.markdown_html(f"# Title\n\n{markdown}\n\n**bold**")
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    for forbidden in ("<script", "onerror", "onclick", "javascript:", "<iframe", "alert(1)</script>"):
        assert forbidden not in html


def test_markdown_keeps_code_tables_and_safe_links():
    html = docs.markdown_html("```\ncode <b>\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[docs](https://x.example)")
    assert "<code>code &lt;b&gt;" in html
    assert "<table>" in html
    assert 'href="https://x.example"' in html


def test_the_chat_snippets_print_the_completions_text():
    body = {"model": "ledger", "messages": [{"role": "user", "content": "Hello"}]}
    python = docs.python_snippet(url="https://portal.example/v1/chat/completions", body=body, result=docs.CHAT_RESULT)
    ast.parse(python)
    assert python.endswith('print(response.json()["choices"][0]["message"]["content"])')
    javascript = docs.javascript_snippet(url="u", body=body, result=docs.CHAT_RESULT)
    assert javascript.endswith("console.log(answer.choices[0].message.content);")
    assert docs.javascript_snippet(url="u", body=body).endswith("console.log(answer.output);")
