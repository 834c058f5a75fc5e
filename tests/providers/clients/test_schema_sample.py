"""schema_sample: the echo provider's stand-in for a model's JSON output validates against the schema asked for."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from typing import Annotated, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

from apps.providers.clients.schema_sample import sample

TEXT = "some words"


def valid_sample(schema: dict) -> object:
    value = sample(schema, TEXT)
    jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())
    return value


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string"}, TEXT),
        ({"type": "string", "minLength": 12}, TEXT + "xx"),
        ({"type": "string", "maxLength": 4}, "some"),
        ({"type": "string", "format": "email"}, "user@example.com"),
        ({"type": "string", "format": "date"}, "2024-01-01"),
        ({"type": "string", "format": "uuid"}, "00000000-0000-4000-8000-000000000000"),
        ({"type": "integer"}, 0),
        ({"type": "integer", "minimum": 3}, 3),
        ({"type": "integer", "exclusiveMinimum": 3}, 4),
        ({"type": "integer", "maximum": -2}, -2),
        ({"type": "integer", "minimum": 5, "multipleOf": 4}, 8),
        ({"type": "number", "exclusiveMinimum": 0}, 0.5),
        ({"type": "number", "minimum": -1, "maximum": 1}, 0),
        ({"type": "boolean"}, False),
        ({"type": "null"}, None),
        ({"type": ["null", "integer"]}, 0),
        ({"enum": ["b", "a"]}, "b"),
        ({"const": 7}, 7),
        ({"anyOf": [{"type": "null"}, {"type": "integer"}]}, 0),
        ({"type": "array", "items": {"type": "integer"}}, [0]),
        ({"type": "array", "items": {"type": "integer"}, "minItems": 3}, [0, 0, 0]),
        ({"type": "array", "items": {"type": "integer"}, "maxItems": 0}, []),
        ({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False}, [TEXT, 0]),
        ({"type": "object"}, {}),
        (
            {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["a"]},
            {"a": TEXT},
        ),
        (
            {
                "allOf": [{"$ref": "#/$defs/A"}, {"properties": {"b": {"type": "boolean"}}, "required": ["b"]}],
                "$defs": {"A": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}},
            },
            {"a": 0, "b": False},
        ),
    ],
)
def test_each_kind_of_schema_gets_a_valid_value(schema, expected):
    assert valid_sample(schema) == expected


def test_a_recursive_schema_ends():
    schema = {"type": "object", "properties": {"child": {"$ref": "#"}}, "required": ["child"]}

    value = sample(schema, TEXT)

    depth = 0
    while isinstance(value, dict):
        value, depth = value["child"], depth + 1
    assert depth > 10


class Colour(enum.Enum):
    RED = "red"


class Part(BaseModel):
    name: Annotated[str, Field(min_length=2, max_length=5)]
    weight: Annotated[decimal.Decimal, Field(ge=1)]


class Kit(BaseModel):
    """A schema as pydantic writes it: $defs, $ref, enums, formats, nullable fields and constrained items."""

    id: uuid.UUID
    made: dt.datetime
    colour: Colour
    kind: Literal["box", "bag"]
    parts: Annotated[list[Part], Field(min_length=2)]
    spare: Part | None
    labels: dict[str, int]
    note: str = "none"


def test_a_pydantic_models_schema_gets_a_value_the_model_accepts():
    schema = Kit.model_json_schema()

    kit = Kit.model_validate(valid_sample(schema))

    assert kit.colour is Colour.RED
    assert len(kit.parts) == 2
    assert kit.spare is not None
