"""JSON Schema (what OpenAI tools and `response_format` carry) → the OpenAPI 3.0 subset Gemini's `Schema` takes,
for function `parameters` and `responseSchema`.

The rule, per keyword:
- kept: type (upper-cased, as Gemini's enum spells it), format, title, description, nullable, enum, items,
  properties, required, anyOf, minItems, maxItems, minProperties, maxProperties, minLength, maxLength, pattern,
  minimum, maximum, default, example, propertyOrdering;
- rewritten: `type: [X, "null"]` → type X + nullable; `const: v` → enum [v]; `oneOf` → anyOf; local `$ref`s
  (`#/$defs/…`, `#/definitions/…`, as pydantic writes them) inlined; `allOf` of one schema inlined;
- stripped, because they only annotate or restate what Gemini's output keeps anyway: `$schema`, `$id`,
  `$comment`, `$defs`/`definitions` (once inlined), `additionalProperties`, `examples`, `strict`, `readOnly`,
  `writeOnly`, `deprecated`;
- refused with a 400 naming the parameter (Gemini could not enforce them, so dropping them would change what the
  caller asked for): any other keyword (`not`, `patternProperties`, `if`, `uniqueItems`, `multipleOf`,
  `exclusiveMinimum`…), a recursive `$ref`, a remote `$ref`, a `type` list of several non-null types.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apps.providers.clients.base import UnsupportedParameter

_KEPT = frozenset(
    {"format", "title", "description", "nullable", "required", "minItems", "maxItems", "minProperties"}
    | {"maxProperties", "minLength", "maxLength", "pattern", "minimum", "maximum", "default", "example"}
    | {"propertyOrdering", "enum"}
)
_STRIPPED = frozenset(
    {"$schema", "$id", "$comment", "$defs", "definitions", "additionalProperties", "examples", "strict"}
    | {"readOnly", "writeOnly", "deprecated"}
)
_MAX_DEPTH = 32


def to_gemini_schema(schema: Any, *, param: str) -> dict[str, Any]:
    """The Gemini `Schema` for `schema`; UnsupportedParameter names `param` and the keyword's path in it."""
    if not isinstance(schema, Mapping):
        raise UnsupportedParameter(param, "a schema must be a JSON object.")
    return _convert(schema, schema, param, ())


def _convert(schema: Mapping[str, Any], root: Mapping[str, Any], where: str, refs: tuple[str, ...]) -> dict[str, Any]:
    if len(refs) > _MAX_DEPTH:
        raise UnsupportedParameter(where, "the schema nests too deeply for Gemini.")
    if "$ref" in schema:
        ref = str(schema["$ref"])
        if ref in refs:
            raise UnsupportedParameter(where, f"Gemini's schemas cannot recurse ({ref} refers to itself).")
        target = {**_resolve(root, ref, where), **{k: v for k, v in schema.items() if k != "$ref"}}
        return _convert(target, root, where, (*refs, ref))
    if "allOf" in schema:
        parts = schema["allOf"]
        if not isinstance(parts, list) or len(parts) != 1:
            raise UnsupportedParameter(f"{where}.allOf", "Gemini takes no allOf of several schemas.")
        merged = {**parts[0], **{k: v for k, v in schema.items() if k != "allOf"}}
        return _convert(merged, root, where, refs)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _STRIPPED:
            continue
        if key == "type":
            out.update(_type(value, f"{where}.type"))
        elif key == "const":
            out["enum"] = [value]
        elif key in ("anyOf", "oneOf"):
            out["anyOf"] = [_convert(item, root, f"{where}.{key}[{n}]", refs) for n, item in enumerate(value)]
        elif key == "properties":
            out["properties"] = {
                name: _convert(item, root, f"{where}.properties.{name}", refs) for name, item in value.items()
            }
        elif key == "items":
            if not isinstance(value, Mapping):
                raise UnsupportedParameter(f"{where}.items", "Gemini takes one schema for all items (no tuples).")
            out["items"] = _convert(value, root, f"{where}.items", refs)
        elif key in _KEPT:
            out[key] = value
        else:
            raise UnsupportedParameter(f"{where}.{key}", f"Gemini's schemas have no {key!r} keyword.")
    if "enum" in out and "type" not in out:
        out["type"] = "STRING"  # Gemini's enums are of strings
    return out


def _type(value: Any, where: str) -> dict[str, Any]:
    names = [value] if isinstance(value, str) else list(value or ())
    nullable = "null" in names
    names = [name for name in names if name != "null"]
    if len(names) != 1:
        raise UnsupportedParameter(where, "Gemini takes one type per schema (and null); use anyOf instead.")
    return {"type": str(names[0]).upper(), **({"nullable": True} if nullable else {})}


def _resolve(root: Mapping[str, Any], ref: str, where: str) -> Mapping[str, Any]:
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        raise UnsupportedParameter(f"{where}.$ref", "only local references (#/$defs/…) can be inlined for Gemini.")
    node: Any = root
    for step in ref[2:].split("/"):
        node = node.get(step.replace("~1", "/").replace("~0", "~")) if isinstance(node, Mapping) else None
    if not isinstance(node, Mapping):
        raise UnsupportedParameter(f"{where}.$ref", f"{ref} does not point into the schema.")
    return node
