"""A sample instance of a JSON Schema, for the offline echo provider's tool arguments and structured outputs.

The instance must validate, so that clients which parse a model's answer into their own types (the OpenAI
SDK's `parse`, instructor, langchain's `with_structured_output`) get an object on the offline demo: required
properties only, each with a value of its type that keeps the schema's cheap constraints (enum and const,
length and item bounds, numeric bounds and multiples, common string formats). Strings carry the caller's
text. `pattern` and `uniqueItems` across several items are not attempted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

_MAX_DEPTH = 32  # a schema whose required properties recurse has no finite instance
# RFC 3339 and friends: fixed values, so the same request always gets the same answer.
_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "12:00:00Z",
    "duration": "P1D",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "iri": "https://example.com/",
    "uri-reference": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def sample(schema: Mapping[str, Any], text: str) -> Any:
    """A value valid against `schema` (local `$ref`s resolved against it), strings built from `text`."""
    return _sample(schema, text, schema, 0)


def _sample(schema: Mapping[str, Any], text: str, root: Mapping[str, Any], depth: int) -> Any:
    if depth > _MAX_DEPTH or not isinstance(schema, Mapping):
        return None
    schema = _merged(schema, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf"):
        if options := schema.get(combinator):
            # Optional[X] is anyOf [X, null]: X is the more useful sample.
            chosen = next((option for option in options if option.get("type") != "null"), options[0])
            return _sample(chosen, text, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((name for name in kind if name != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties") or {}
        required = schema.get("required") or ()
        return {name: _sample(properties.get(name) or {}, text, root, depth + 1) for name in required}
    if kind == "array":
        return _array(schema, text, root, depth)
    if kind in ("integer", "number"):
        return _number(schema, integer=kind == "integer")
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _string(schema, text)  # "string", or no type at all: any value will do


def _merged(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int = 0) -> Mapping[str, Any]:
    """The schema with its `$ref` and `allOf` folded in (pydantic wraps described fields in either)."""
    if depth > _MAX_DEPTH:
        return {}
    if ref := schema.get("$ref"):
        rest = {key: value for key, value in schema.items() if key != "$ref"}
        return {**_merged(_resolve(root, ref), root, depth + 1), **rest}
    if parts := schema.get("allOf"):
        merged: dict[str, Any] = {key: value for key, value in schema.items() if key != "allOf"}
        for part in parts:
            part = _merged(part, root, depth + 1)
            merged["properties"] = {**(merged.get("properties") or {}), **(part.get("properties") or {})}
            merged["required"] = [*(merged.get("required") or ()), *(part.get("required") or ())]
            merged.update({key: value for key, value in part.items() if key not in ("properties", "required")})
        return merged
    return schema


def _resolve(root: Mapping[str, Any], ref: str) -> Mapping[str, Any]:
    """A local JSON pointer such as `#/$defs/Address`; anything else resolves to the empty schema."""
    if not ref.startswith("#"):
        return {}
    node: Any = root
    for part in ref[1:].split("/")[1:]:
        node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


def _array(schema: Mapping[str, Any], text: str, root: Mapping[str, Any], depth: int) -> list[Any]:
    prefix = [_sample(item, text, root, depth + 1) for item in schema.get("prefixItems") or ()]
    count = max(int(schema.get("minItems") or 0), 1) - len(prefix)
    if "maxItems" in schema:
        count = min(count, int(schema["maxItems"]) - len(prefix))
    items = schema.get("items")
    if count <= 0 or items is False:
        return prefix
    return prefix + [_sample(items if isinstance(items, Mapping) else {}, text, root, depth + 1)] * count


def _number(schema: Mapping[str, Any], *, integer: bool) -> int | float:
    step = 1 if integer else 0.5
    low, high = schema.get("minimum"), schema.get("maximum")
    if "exclusiveMinimum" in schema:
        low = schema["exclusiveMinimum"] + step
    if "exclusiveMaximum" in schema:
        high = schema["exclusiveMaximum"] - step
    value: float = 0
    if low is not None and value < low:
        value = low
    if high is not None and value > high:
        value = high
    if multiple := schema.get("multipleOf"):
        value = math.ceil(value / multiple) * multiple
    return math.ceil(value) if integer else value


def _string(schema: Mapping[str, Any], text: str) -> str:
    value = _FORMATS.get(schema.get("format") or "", text)
    low, high = int(schema.get("minLength") or 0), schema.get("maxLength")
    if len(value) < low:
        value += "x" * (low - len(value))
    return value if high is None else value[: int(high)]
