"""What a prompt version must be before it is saved (pure: no Django). Each refusal names the field at fault."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator, SchemaError

from apps.core.errors import ApplicationError
from apps.prompts.rendering import PromptParts, TemplateError, check_declared

# name → (kind, low, high); kind "number" accepts ints and floats, never booleans.
NUMERIC_PARAMETERS: dict[str, tuple[str, float, float | None]] = {
    "temperature": ("number", 0, 2),
    "top_p": ("number", 0, 1),
    "max_tokens": ("integer", 1, None),
    "presence_penalty": ("number", -2, 2),
    "frequency_penalty": ("number", -2, 2),
    "seed": ("integer", -(2**63), 2**63 - 1),
}
MAX_STOP_SEQUENCES = 4
ALLOWED_PARAMETERS = frozenset({*NUMERIC_PARAMETERS, "stop"})


def validate_variables_schema(schema: Any) -> set[str]:
    """A valid JSON Schema (draft 2020-12, as the catalog and OpenAPI 3.1 use) of type object; returns the names
    it declares (its properties)."""
    if not isinstance(schema, Mapping) or schema.get("type") != "object":
        raise ApplicationError(
            'The variables schema must be a JSON Schema with "type": "object".', field="variables_schema"
        )
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(part) for part in exc.path) or "(root)"
        raise ApplicationError(f"Invalid JSON Schema at {where}: {exc.message}", field="variables_schema") from None
    return set(schema.get("properties", {}))


def validate_examples(examples: Any) -> list[dict[str, str]]:
    """Few-shot examples: a list of {"user": str, "assistant": str}."""
    if not isinstance(examples, list | tuple):
        raise ApplicationError('Examples must be a list of {"user", "assistant"} pairs.', field="examples")
    for index, example in enumerate(examples, start=1):
        if (
            not isinstance(example, Mapping)
            or set(example) != {"user", "assistant"}
            or not all(isinstance(value, str) for value in example.values())
        ):
            raise ApplicationError(
                f'Example {index} must be exactly {{"user": "…", "assistant": "…"}} with text values.', field="examples"
            )
    return [dict(example) for example in examples]


def _check_numeric(name: str, value: Any) -> None:
    kind, low, high = NUMERIC_PARAMETERS[name]
    wanted = int if kind == "integer" else int | float
    if isinstance(value, bool) or not isinstance(value, wanted):
        raise ApplicationError(
            f"{name} must be a{'n integer' if kind == 'integer' else ' number'}.", field="parameters"
        )
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ApplicationError(f"{name} must be {bounds}.", field="parameters")


def _check_stop(value: Any) -> None:
    sequences = [value] if isinstance(value, str) else value
    if (
        not isinstance(sequences, list)
        or not 0 < len(sequences) <= MAX_STOP_SEQUENCES
        or not all(isinstance(item, str) and item for item in sequences)
    ):
        raise ApplicationError(
            f"stop must be a string or a list of 1 to {MAX_STOP_SEQUENCES} non-empty strings.", field="parameters"
        )


def validate_parameters(parameters: Any) -> dict[str, Any]:
    """Model parameters from the allow-list only, each of the right type and range."""
    if parameters is None:
        return {}
    if not isinstance(parameters, Mapping):
        raise ApplicationError("Parameters must be an object.", field="parameters")
    unknown = sorted(set(parameters) - ALLOWED_PARAMETERS)
    if unknown:
        raise ApplicationError(
            f"Unknown model parameter(s): {', '.join(unknown)}. Allowed: {', '.join(sorted(ALLOWED_PARAMETERS))}.",
            field="parameters",
        )
    for name, value in parameters.items():
        if name == "stop":
            _check_stop(value)
        else:
            _check_numeric(name, value)
    return dict(parameters)


def validate_version(
    *, system_template: str, user_template: str, variables_schema: Any, examples: Any, parameters: Any
) -> dict[str, Any]:
    """Every check of a version's content, in the order a person fixes them; returns the cleaned fields."""
    declared = validate_variables_schema(variables_schema)
    cleaned_examples = validate_examples(examples)
    if not user_template.strip():
        raise ApplicationError("The user message template cannot be empty.", field="user_template")
    try:
        check_declared(PromptParts(system=system_template, user=user_template), declared)
    except TemplateError as exc:
        raise ApplicationError(exc.message, field=exc.field) from None
    return {
        "system_template": system_template,
        "user_template": user_template,
        "variables_schema": dict(variables_schema),
        "examples": cleaned_examples,
        "parameters": validate_parameters(parameters),
    }
