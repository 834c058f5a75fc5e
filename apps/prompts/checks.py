"""The checks of a prompt's test cases (pure: no Django): what each kind holds, checked when a case is saved, and
how one judges a model's output.

A check is a JSON object with a `type`:
  {"type": "contains", "value": "refund", "ignore_case": false}
  {"type": "not_contains", "value": "As an AI", "ignore_case": true}
  {"type": "regex", "pattern": "^\\\\d+ words", "ignore_case": false}     (re.search)
  {"type": "json_schema", "schema": {...}}      (without "schema": the service's output schema)
  {"type": "json_path", "path": "$.summary.words", "equals": 12}          (the first match equals the value)
  {"type": "max_tokens", "max": 200}            (at most this many output tokens)
Each refusal names the check by its position (1-based, as a person counts) and the field at fault."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from jsonpath_ng import parse as jsonpath_parse
from jsonschema import Draft202012Validator, SchemaError
from jsonschema.validators import validator_for

from apps.core.errors import ApplicationError

MAX_CHECKS = 20
MAX_TEXT = 10_000  # characters of a value or pattern
FIELD = "checks"

# type → (required fields, optional fields)
KINDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "contains": (frozenset({"value"}), frozenset({"ignore_case"})),
    "not_contains": (frozenset({"value"}), frozenset({"ignore_case"})),
    "regex": (frozenset({"pattern"}), frozenset({"ignore_case"})),
    "json_schema": (frozenset(), frozenset({"schema"})),
    "json_path": (frozenset({"path", "equals"}), frozenset()),
    "max_tokens": (frozenset({"max"}), frozenset()),
}


def _refuse(index: int, field: str, message: str) -> ApplicationError:
    return ApplicationError(f"Check {index + 1}, {field}: {message}", field=FIELD, extra={"check": index, "key": field})


def _text(check: Mapping[str, Any], index: int, name: str) -> str:
    value = check[name]
    if not isinstance(value, str) or not value:
        raise _refuse(index, name, "must be a non-empty string.")
    if len(value) > MAX_TEXT:
        raise _refuse(index, name, f"is at most {MAX_TEXT} characters long.")
    return value


def _check_schema(schema: Any, index: int) -> None:
    if not isinstance(schema, Mapping):
        raise _refuse(index, "schema", "must be a JSON Schema object.")
    try:
        validator_for(schema, default=Draft202012Validator).check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(part) for part in exc.path) or "(root)"
        raise _refuse(index, "schema", f"is not a valid JSON Schema at {where}: {exc.message}") from None


def _clean_one(check: Any, index: int, *, output_schema: Mapping[str, Any] | None) -> dict[str, Any]:
    if not isinstance(check, Mapping):
        raise _refuse(index, "type", 'each check is an object such as {"type": "contains", "value": "…"}.')
    kind = check.get("type")
    if kind not in KINDS:
        raise _refuse(index, "type", f"{kind!r} is not a check type; use one of: {', '.join(KINDS)}.")
    required, optional = KINDS[kind]
    for name in sorted(required - set(check)):
        raise _refuse(index, name, f"is required for a {kind} check.")
    for name in sorted(set(check) - required - optional - {"type"}):
        raise _refuse(index, name, f"is not a field of a {kind} check.")
    if "ignore_case" in check and not isinstance(check["ignore_case"], bool):
        raise _refuse(index, "ignore_case", "must be true or false.")
    if kind in ("contains", "not_contains"):
        _text(check, index, "value")
    elif kind == "regex":
        pattern = _text(check, index, "pattern")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise _refuse(index, "pattern", f"is not a valid regular expression: {exc}.") from None
    elif kind == "json_schema":
        if "schema" in check:
            _check_schema(check["schema"], index)
        elif not output_schema:
            raise _refuse(index, "schema", "is required: the service declares no output schema to check against.")
    elif kind == "json_path":
        path = _text(check, index, "path")
        try:
            jsonpath_parse(path)
        except Exception as exc:  # JSONPathError, and plain Exceptions the parser raises for some inputs
            raise _refuse(index, "path", f"is not a JSON path ({exc}); write one like $.summary.words.") from None
    elif kind == "max_tokens":
        limit = check["max"]
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise _refuse(index, "max", "must be an integer of at least 1.")
    return dict(check)


def checks_clean(checks: Any, *, output_schema: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The checks as stored, or an ApplicationError naming the check (1-based) and its field."""
    if not isinstance(checks, list | tuple):
        raise ApplicationError("Checks are a list of check objects.", field=FIELD)
    if len(checks) > MAX_CHECKS:
        raise ApplicationError(f"A test case has at most {MAX_CHECKS} checks.", field=FIELD)
    return [_clean_one(check, index, output_schema=output_schema) for index, check in enumerate(checks)]


@dataclass(frozen=True)
class Observed:
    """What a run produced, as the checks see it."""

    text: str  # the model's output as text (JSON services: the JSON text)
    completion_tokens: int


def _json(text: str) -> tuple[Any, str | None]:
    try:
        return orjson.loads(text), None
    except orjson.JSONDecodeError:
        return None, "the output is not valid JSON"


def _shown(value: Any) -> str:
    shown = orjson.dumps(value).decode() if not isinstance(value, str) else repr(value)
    return shown if len(shown) <= 80 else f"{shown[:77]}…"


def _failure(check: Mapping[str, Any], observed: Observed, output_schema: Mapping[str, Any] | None) -> str | None:
    kind = check["type"]
    flags = re.IGNORECASE if check.get("ignore_case") else 0
    if kind in ("contains", "not_contains"):
        found = re.search(re.escape(check["value"]), observed.text, flags) is not None
        if kind == "contains" and not found:
            return f"does not contain {_shown(check['value'])}"
        if kind == "not_contains" and found:
            return f"contains {_shown(check['value'])}"
        return None
    if kind == "regex":
        return None if re.search(check["pattern"], observed.text, flags) else f"does not match /{check['pattern']}/"
    if kind == "max_tokens":
        used = observed.completion_tokens
        return None if used <= check["max"] else f"used {used} output tokens, more than {check['max']}"
    value, problem = _json(observed.text)
    if problem:
        return problem
    if kind == "json_schema":
        schema = check.get("schema") or output_schema or {}
        error = next(iter(validator_for(schema, default=Draft202012Validator)(schema).iter_errors(value)), None)
        if error is None:
            return None
        where = "/".join(str(part) for part in error.absolute_path) or "(root)"
        return f"does not match the schema at {where}: {error.message}"
    matches = jsonpath_parse(check["path"]).find(value)
    if not matches:
        return f"{check['path']} matches nothing"
    found_value, expected = matches[0].value, check["equals"]
    # JSON's true is not 1: equal values of the same JSON type only.
    if found_value != expected or isinstance(found_value, bool) != isinstance(expected, bool):
        return f"{check['path']} is {_shown(found_value)}, not {_shown(expected)}"
    return None


def checks_evaluate(
    checks: list[Mapping[str, Any]], observed: Observed, *, output_schema: Mapping[str, Any] | None = None
) -> list[str]:
    """Why the output fails its checks: one sentence per failed check, naming it; empty when all pass."""
    failures = []
    for index, check in enumerate(checks):
        problem = _failure(check, observed, output_schema)
        if problem:
            failures.append(f"Check {index + 1} ({check['type']}): {problem}.")
    return failures
