"""Request schemas of the OpenAI-compatible surface, mirroring OpenAI's API reference, and the translation of
their validation errors into OpenAI's own wording.

Validation only: the pipeline receives the caller's own JSON (parsed once with orjson). Parameters the
schema does not name are kept (extra="allow") and passed to the provider: OpenAI-compatible servers take
their own extensions (vLLM's top_k, Ollama's options); a provider kind that cannot take a parameter
refuses it with a 400 naming it. Types are strict, as OpenAI's are: `"n": "2"` or `"stream": "yes"` is a 400,
not a string that reaches a provider client."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from apps.gateway.pipeline.errors import InvalidRequest


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class ContentPart(_Open):
    type: Literal["text", "image_url", "input_audio", "file", "refusal"]
    text: str | None = None
    image_url: dict[str, Any] | None = None


class ToolCallFunction(_Open):
    name: str
    arguments: str


class FunctionToolCall(_Open):
    id: str
    type: Literal["function"]
    function: ToolCallFunction


class ToolCallCustom(_Open):
    name: str
    input: str


class CustomToolCall(_Open):
    id: str
    type: Literal["custom"]
    custom: ToolCallCustom


ToolCall = Annotated[FunctionToolCall | CustomToolCall, Field(discriminator="type")]


class ChatMessage(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None


ToolName = Annotated[str, Field(min_length=1, max_length=64)]


class FunctionDefinition(_Open):
    name: ToolName
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionTool(_Open):
    type: Literal["function"]
    function: FunctionDefinition


class TextFormat(_Open):
    type: Literal["text"]


class Grammar(_Open):
    definition: str
    syntax: Literal["lark", "regex"]


class GrammarFormat(_Open):
    type: Literal["grammar"]
    grammar: Grammar


class CustomDefinition(_Open):
    name: ToolName
    description: str | None = None
    format: Annotated[TextFormat | GrammarFormat, Field(discriminator="type")] | None = None


class CustomTool(_Open):
    """A tool whose input is free text (or text in a grammar) instead of JSON arguments."""

    type: Literal["custom"]
    custom: CustomDefinition


Tool = Annotated[FunctionTool | CustomTool, Field(discriminator="type")]


class NamedFunction(_Open):
    name: str


class FunctionChoice(_Open):
    type: Literal["function"]
    function: NamedFunction


class CustomChoice(_Open):
    type: Literal["custom"]
    custom: NamedFunction


class AllowedTools(_Open):
    mode: Literal["auto", "required"]
    tools: list[dict[str, Any]]


class AllowedToolsChoice(_Open):
    type: Literal["allowed_tools"]
    allowed_tools: AllowedTools


ToolChoice = Annotated[FunctionChoice | CustomChoice | AllowedToolsChoice, Field(discriminator="type")]


class ResponseFormat(_Open):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None


class StreamOptions(_Open):
    include_usage: bool | None = None


class ChatCompletionIn(_Open):
    model: Annotated[str, Field(min_length=1, max_length=200)]
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    n: Annotated[int, Field(ge=1, le=128)] | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    presence_penalty: Annotated[float, Field(ge=-2, le=2)] | None = None
    frequency_penalty: Annotated[float, Field(ge=-2, le=2)] | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    seed: int | None = None
    user: str | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None


class EmbeddingIn(_Open):
    model: Annotated[str, Field(min_length=1, max_length=200)]
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: Annotated[int, Field(ge=1)] | None = None
    user: str | None = None


# --- OpenAI's wording for validation errors -------------------------------------------------------------------
#
# pydantic names a location by its own schema (`stop.str`, `messages.0.content.list[ContentPart].0.type`): a
# union adds one label per member it tried, and reports every member's failure. OpenAI names the parameter as
# the caller wrote it (`messages[0].content[0].type`) and says what is wrong with the value that was sent. So a
# location is followed through the body itself: a step the body has (a key of an object, an index of an array)
# is part of the parameter's name, anything else is a union label. Of a union's failures, the one that got
# furthest into the body is the one about what the caller meant (a list of parts: the part at fault, not "not
# a string"); at equal depth a wrong value beats a wrong type, and wrong types at one place are merged into
# one "expected a string or an array".

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a decimal",
    "bool_type": "a boolean",
    "list_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}
_BOUNDS = {
    "greater_than_equal": ("below minimum", ">=", "ge"),
    "greater_than": ("below minimum", ">", "gt"),
    "less_than_equal": ("above maximum", "<=", "le"),
    "less_than": ("above maximum", "<", "lt"),
}


def invalid_body(exc: ValidationError, body: dict[str, Any]) -> InvalidRequest:
    """The 400 for a body the schema refused, naming the parameter as OpenAI does."""
    errors = [_located(error, body) for error in exc.errors(include_url=False)]
    depth = max(error["depth"] for error in errors)
    deepest = [error for error in errors if error["depth"] == depth]
    wrong_values = [error for error in deepest if error["type"] not in _EXPECTED]
    if wrong_values:
        error = wrong_values[0]
        return InvalidRequest(_message(error), param=error["param"])
    param = deepest[0]["param"]
    expected = _join(sorted({_EXPECTED[error["type"]] for error in deepest if error["param"] == param}), "or")
    got = _json_type(deepest[0]["input"])
    return InvalidRequest(f"Invalid type for '{param}': expected {expected}, but got {got} instead.", param=param)


def _located(error: dict[str, Any], body: Any) -> dict[str, Any]:
    """The error with `param` (OpenAI's name of the place) and `depth` (how many steps of the body it names)."""
    name, depth, node = "", 0, body
    loc, missing = error["loc"], error["type"] == "missing"  # then the last step is the key that is missing
    for index, step in enumerate(loc):
        if isinstance(step, int) and isinstance(node, list) and 0 <= step < len(node):
            name, node = f"{name}[{step}]", node[step]
        elif isinstance(step, str) and isinstance(node, dict) and (step in node or (missing and index == len(loc) - 1)):
            name, node = f"{name}.{step}" if name else step, node.get(step)
        else:
            continue  # a union member's label
        depth += 1
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        field = error["ctx"]["discriminator"].strip("'")
        name, depth = f"{name}.{field}" if name else field, depth + 1
    return {**error, "param": name, "depth": depth}


def _message(error: dict[str, Any]) -> str:
    param, kind, ctx, value = error["param"], error["type"], error.get("ctx") or {}, error["input"]
    if kind in ("missing", "union_tag_not_found"):
        return f"Missing required parameter: '{param}'."
    if kind == "literal_error":
        return f"Invalid value for '{param}': {_show(value)}. Supported values are: {_join(ctx['expected'])}."
    if kind == "union_tag_invalid":
        return f"Invalid value for '{param}': {_show(ctx['tag'])}. Supported values are: {_join(ctx['expected_tags'])}."
    if kind in ("too_short", "too_long"):
        bound, length = ("minimum", ctx["min_length"]) if kind == "too_short" else ("maximum", ctx["max_length"])
        actual = ctx.get("actual_length", len(value) if isinstance(value, list | str | dict) else 0)
        if actual == 0:
            return (
                f"Invalid '{param}': empty array. Expected an array with minimum length {length}, "
                "but got an empty array instead."
            )
        size = "short" if kind == "too_short" else "long"
        return (
            f"Invalid '{param}': array too {size}. Expected an array with {bound} length {length}, "
            f"but got an array with length {actual} instead."
        )
    if kind in ("string_too_short", "string_too_long"):
        bound, length = ("minimum", ctx["min_length"]) if kind == "string_too_short" else ("maximum", ctx["max_length"])
        size = "short" if kind == "string_too_short" else "long"
        return (
            f"Invalid '{param}': string too {size}. Expected a string with {bound} length {length}, "
            f"but got a string with length {len(value)} instead."
        )
    if kind in _BOUNDS:
        words, operator, key = _BOUNDS[kind]
        bound = ctx[key]
        number = "integer" if isinstance(bound, int) else "decimal"
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        return (
            f"Invalid '{param}': {number} {words} value. Expected a value {operator} {bound}, but got {value} instead."
        )
    return f"Invalid value for '{param}': {error['msg']}."


def _join(values: str | list[str], last: str = "and") -> str:
    """`'a', 'b' and 'c'` from pydantic's `"'a', 'b' or 'c'"` or from a list of phrases."""
    if isinstance(values, str):
        values = [value.strip() for value in values.replace(" or ", ", ").split(",")]
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} {last} {values[-1]}"


def _show(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else _json_type(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"
