"""What a service's page shows a developer (pure: no Django): its description as safe HTML, its input fields as
table rows, an example body built from the input schema, and copy-ready calls in curl, Python and JavaScript."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import markdown
import nh3

MAX_DEPTH = 6
KEY_VARIABLE = "GATEWAY_API_KEY"
STRING_FORMATS = {
    "email": "user@example.com",
    "date": "2025-01-31",
    "date-time": "2025-01-31T12:00:00Z",
    "uri": "https://example.com",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
}
CONSTRAINTS = (
    ("minimum", "≥ {}"),
    ("maximum", "≤ {}"),
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
    ("minItems", "at least {} items"),
    ("maxItems", "at most {} items"),
    ("pattern", "matches {}"),
    ("format", "format {}"),
    ("default", "default {}"),
)


def markdown_html(text: str) -> str:
    """Markdown as HTML that is safe to embed: no script, no event handler, no javascript: link."""
    html = markdown.markdown(text, extensions=["fenced_code", "tables", "sane_lists"])
    return nh3.clean(html, link_rel="noopener noreferrer nofollow")


def _resolve(schema: Any, root: dict[str, Any]) -> dict[str, Any]:
    """The schema itself, or what a local `$ref` (#, #/$defs/…) points to; the first branch of anyOf/oneOf/allOf."""
    for _ in range(MAX_DEPTH):
        if not isinstance(schema, dict):
            return {}
        ref = schema.get("$ref")
        if isinstance(ref, str) and (ref == "#" or ref.startswith("#/")):
            target: Any = root
            for part in ref[2:].split("/") if ref != "#" else ():
                part = part.replace("~1", "/").replace("~0", "~")  # JSON pointer escapes
                target = target.get(part, {}) if isinstance(target, dict) else {}
            schema = target
            continue
        branches = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
        if isinstance(branches, list) and branches and "type" not in schema:
            schema = branches[0]
            continue
        return schema
    return {}


def _type(schema: dict[str, Any]) -> str:
    kind = schema.get("type", "")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if not kind and "properties" in schema:
        return "object"
    return kind


def example_value(schema: Any, *, root: dict[str, Any] | None = None, name: str = "value", depth: int = 0) -> Any:
    """A plausible value for `schema`: its own example, default, const or first enum value, else one by type."""
    root = schema if root is None else root
    schema = _resolve(schema, root)
    for key in ("const", "default", "example"):
        if key in schema:
            return schema[key]
    for key in ("examples", "enum"):
        if isinstance(schema.get(key), list) and schema[key]:
            return schema[key][0]
    kind = _type(schema)
    if kind == "object":
        if depth >= MAX_DEPTH:
            return {}
        properties = schema.get("properties", {})
        return {key: example_value(sub, root=root, name=key, depth=depth + 1) for key, sub in properties.items()}
    if kind == "array":
        return (
            []
            if depth >= MAX_DEPTH
            else [example_value(schema.get("items", {}), root=root, name=name, depth=depth + 1)]
        )
    by_type = {"integer": schema.get("minimum", 1), "number": schema.get("minimum", 1.5), "boolean": True, "null": None}
    if kind in by_type:
        return by_type[kind]
    return STRING_FORMATS.get(schema.get("format", ""), f"<{name}>")


def example_body(input_schema: dict[str, Any]) -> dict[str, Any]:
    """An invocation body for the service: an example of its input (an empty object when it declares none)."""
    value = example_value(input_schema, name="input")
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class InputField:
    """One row of the input table: `name` is dotted for nested fields (customer.email, items[].sku)."""

    name: str
    type: str
    required: bool
    description: str
    constraints: str


def _type_label(schema: dict[str, Any], root: dict[str, Any]) -> str:
    if "const" in schema:
        return f"always {json.dumps(schema['const'])}"
    if isinstance(schema.get("enum"), list):
        return "one of " + ", ".join(json.dumps(value) for value in schema["enum"])
    kind = _type(schema)
    if kind == "array":
        return f"array of {_type_label(_resolve(schema.get('items', {}), root), root) or 'any'}"
    if isinstance(schema.get("type"), list) and "null" in schema["type"] and kind != "null":
        return f"{kind} or null"
    return kind or "any"


def _constraints(schema: dict[str, Any]) -> str:
    shown = [text.format(json.dumps(schema[key])) for key, text in CONSTRAINTS if key in schema]
    return ", ".join(shown)


def input_fields(schema: dict[str, Any], *, root: dict[str, Any] | None = None, prefix: str = "") -> list[InputField]:
    """The fields of an object schema, nested objects (and arrays of objects) flattened with dotted names."""
    root = schema if root is None else root
    schema = _resolve(schema, root)
    required = set(schema.get("required", []))
    rows: list[InputField] = []
    for key, raw in schema.get("properties", {}).items():
        sub = _resolve(raw, root)
        name = f"{prefix}{key}"
        rows.append(
            InputField(name, _type_label(sub, root), key in required, sub.get("description", ""), _constraints(sub))
        )
        if prefix.count(".") < MAX_DEPTH:
            items = _resolve(sub.get("items", {}), root)
            if _type(sub) == "object":
                rows += input_fields(sub, root=root, prefix=f"{name}.")
            elif _type(sub) == "array" and _type(items) == "object":
                rows += input_fields(items, root=root, prefix=f"{name}[].")
    return rows


def _indented(text: str, spaces: int) -> str:
    return text.replace("\n", "\n" + " " * spaces)


def curl_snippet(*, url: str, body: dict[str, Any]) -> str:
    payload = json.dumps(body, indent=2, ensure_ascii=False).replace("'", "'\\''")
    return (
        f"curl -sS -X POST '{url}' \\\n"
        f'  -H "Authorization: Bearer ${KEY_VARIABLE}" \\\n'
        "  -H 'Content-Type: application/json' \\\n"
        f"  -d '{payload}'"
    )


def _python_literal(value: Any, indent: int = 0) -> str:
    """`value` as Python source, laid out like black would (JSON's true/false/null are not Python)."""
    pad = " " * indent
    if isinstance(value, dict) and value:
        items = [
            f"{pad}    {json.dumps(str(k), ensure_ascii=False)}: {_python_literal(v, indent + 4)},"
            for k, v in value.items()
        ]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and value:
        items = [f"{pad}    {_python_literal(v, indent + 4)}," for v in value]
        return "[\n" + "\n".join(items) + f"\n{pad}]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)  # None, True, False, numbers, {} and []


# Where the answer's text is: a prompt API's invoke answer, and a model API's chat completion.
INVOKE_RESULT: tuple[str | int, ...] = ("output",)
CHAT_RESULT: tuple[str | int, ...] = ("choices", 0, "message", "content")


def call_example(document: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The address (server and path) of the one operation of a service's OpenAPI document and its example body: a
    prompt API's /invoke, a model API's /v1/chat/completions. The snippets send what the document describes."""
    path, item = next(iter(document["paths"].items()))
    example = item["post"]["requestBody"]["content"]["application/json"]["example"]
    return document["servers"][0]["url"] + path, example


def python_snippet(*, url: str, body: dict[str, Any], result: tuple[str | int, ...] = INVOKE_RESULT) -> str:
    payload = _python_literal(body)
    lookup = "".join(f"[{json.dumps(step)}]" for step in result)
    return (
        "import os\n\nimport httpx\n\n"
        f"payload = {payload}\n"
        "response = httpx.post(\n"
        f"    {json.dumps(url)},\n"
        f'    headers={{"Authorization": f"Bearer {{os.environ[\'{KEY_VARIABLE}\']}}"}},\n'
        "    json=payload,\n"
        "    timeout=60,\n"
        ")\n"
        "response.raise_for_status()\n"
        f"print(response.json(){lookup})"
    )


def javascript_snippet(*, url: str, body: dict[str, Any], result: tuple[str | int, ...] = INVOKE_RESULT) -> str:
    payload = _indented(json.dumps(body, indent=2, ensure_ascii=False), 2)
    lookup = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in result)
    return (
        f"const response = await fetch({json.dumps(url)}, {{\n"
        '  method: "POST",\n'
        "  headers: {\n"
        f"    Authorization: `Bearer ${{process.env.{KEY_VARIABLE}}}`,\n"
        '    "Content-Type": "application/json",\n'
        "  },\n"
        f"  body: JSON.stringify({payload}),\n"
        "});\n"
        "if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);\n"
        "const answer = await response.json();\n"
        f"console.log(answer{lookup});"
    )


def snippets(*, url: str, body: dict[str, Any], result: tuple[str | int, ...] = INVOKE_RESULT) -> dict[str, str]:
    """{"curl": …, "python": …, "javascript": …}: the same call in each, reading the key from GATEWAY_API_KEY; the
    Python and JavaScript ones print the answer's text, found at `result`."""
    return {
        "curl": curl_snippet(url=url, body=body),
        "python": python_snippet(url=url, body=body, result=result),
        "javascript": javascript_snippet(url=url, body=body, result=result),
    }


# The readable page of a service's OpenAPI document: what the template shows, read from the document itself so
# that the page and the JSON cannot disagree.
SSE = "text/event-stream"
SSE_END = "data: [DONE]"


def inline_html(text: str) -> str:
    """Short Markdown (a description with `code`) as safe HTML, without the paragraph around a single line."""
    html = markdown_html(text)
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        return html[3:-4]
    return html


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str
    type: str
    required: bool
    description_html: str


@dataclass(frozen=True)
class Body:
    """A request or response body in one media type. For a stream, `events` are the payloads its events carry."""

    media_type: str
    description_html: str
    fields: list[InputField]
    schema_json: str
    example: str
    events: list[tuple[str, str, list[InputField]]]  # (name, description, fields)


@dataclass(frozen=True)
class Response:
    status: str
    description_html: str
    headers: list[tuple[str, str]]  # (name, description as HTML)
    bodies: list[Body]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    description_html: str
    deprecated: bool
    parameters: list[Parameter]
    request: list[Body]
    responses: list[Response]  # 1xx-3xx, in full
    errors: list[Response]  # 4xx-5xx: their bodies share the error shape, shown once as `error_body`
    error_body: Body | None


def _example_text(media_type: str, media: dict[str, Any], schema: Any, root: dict[str, Any]) -> str:
    if media_type == SSE:  # one `data:` line per event, as the gateway sends them
        events = [example["value"] for example in media.get("examples", {}).values()]
        return "".join(f"data: {json.dumps(event, ensure_ascii=False)}\n\n" for event in events) + SSE_END
    value = media["example"] if "example" in media else example_value(schema, root=root)
    return json.dumps(value, indent=2, ensure_ascii=False)


def _body(media_type: str, media: dict[str, Any], root: dict[str, Any]) -> Body:
    schema = media.get("schema", {})
    resolved = _resolve(schema, root) if "oneOf" not in schema else schema
    events = []
    for branch in schema.get("oneOf", []) if media_type == SSE else []:
        event = _resolve(branch, root)
        name = str(branch.get("$ref", "")).rsplit("/", 1)[-1] or event.get("title", "event")
        events.append((name, event.get("description", ""), input_fields(event, root=root)))
    return Body(
        media_type=media_type,
        description_html=inline_html(resolved.get("description", "")),
        fields=[] if events else input_fields(resolved, root=root),
        schema_json=json.dumps(resolved, indent=2, ensure_ascii=False),
        example=_example_text(media_type, media, resolved, root),
        events=events,
    )


def _response(status: str, response: dict[str, Any], root: dict[str, Any]) -> Response:
    return Response(
        status=status,
        description_html=inline_html(response.get("description", "")),
        headers=[
            (name, inline_html(header.get("description", ""))) for name, header in response.get("headers", {}).items()
        ],
        bodies=[_body(media_type, media, root) for media_type, media in response.get("content", {}).items()],
    )


def _operation(path: str, method: str, operation: dict[str, Any], root: dict[str, Any]) -> Operation:
    responses = [_response(status, answer, root) for status, answer in operation.get("responses", {}).items()]
    errors = [response for response in responses if response.status >= "4"]
    parameters = [
        Parameter(
            name=parameter["name"],
            location=parameter["in"],
            type=_type_label(_resolve(parameter.get("schema", {}), root), root),
            required=parameter.get("required", False),
            description_html=inline_html(parameter.get("description", "")),
        )
        for parameter in operation.get("parameters", [])
    ]
    request = operation.get("requestBody", {}).get("content", {})
    return Operation(
        method=method.upper(),
        path=path,
        summary=operation.get("summary", ""),
        description_html=markdown_html(operation.get("description", "")),
        deprecated=operation.get("deprecated", False),
        parameters=parameters,
        request=[_body(media_type, media, root) for media_type, media in request.items()],
        responses=[response for response in responses if response not in errors],
        errors=errors,
        error_body=next((body for error in errors for body in error.bodies), None),
    )


def openapi_operations(document: dict[str, Any]) -> list[Operation]:
    """The operations of an OpenAPI document, each with its parameters, bodies, events and examples."""
    return [
        _operation(path, method, operation, document)
        for path, item in document.get("paths", {}).items()
        for method, operation in item.items()
        if isinstance(operation, dict) and method in ("get", "put", "post", "delete", "patch")
    ]
