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


def python_snippet(*, url: str, body: dict[str, Any]) -> str:
    payload = _python_literal(body)
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
        'print(response.json()["output"])'
    )


def javascript_snippet(*, url: str, body: dict[str, Any]) -> str:
    payload = _indented(json.dumps(body, indent=2, ensure_ascii=False), 2)
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
        "const { output } = await response.json();\n"
        "console.log(output);"
    )


def snippets(*, url: str, body: dict[str, Any]) -> dict[str, str]:
    """{"curl": …, "python": …, "javascript": …}: the same call in each, reading the key from GATEWAY_API_KEY."""
    return {
        "curl": curl_snippet(url=url, body=body),
        "python": python_snippet(url=url, body=body),
        "javascript": javascript_snippet(url=url, body=body),
    }
