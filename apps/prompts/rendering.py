"""Rendering prompt templates safely (pure: no Django).

Templates are Jinja2 under the SandboxedEnvironment: no access to attributes starting with `_`, no calling
unsafe methods, nothing from the host but the variables given. A variable the template uses but the caller
did not give is an error naming it (StrictUndefined), never an empty string."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateRuntimeError, TemplateSyntaxError, UndefinedError, meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Rendering runs on the gateway's event loop: a template must not be able to stall it or fill its memory.
MAX_RENDERED_CHARS = 200_000
MAX_RENDER_SECONDS = 0.25


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox, plus a cap on what `*` and `**` may build ("a" * 10**9 would otherwise be allowed)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise SecurityError("exponent too large")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, (str, list, tuple))
                    and isinstance(times, int)
                    and len(seq) * times > MAX_RENDERED_CHARS
                ):
                    raise SecurityError("the result would be too large")
        return super().call_binop(context, operator, left, right)


_env = _BoundedSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_UNDEFINED_NAME = re.compile(r"^'(?P<name>[^']+)' is undefined$")


class TemplateError(Exception):
    """A template that cannot be saved (syntax) or rendered (missing variable, forbidden access)."""

    def __init__(self, message: str, *, field: str | None = None, variable: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.variable = variable


@dataclass(frozen=True)
class PromptParts:
    system: str
    user: str
    examples: tuple[Mapping[str, str], ...] = ()


def template_variables(source: str, *, field: str) -> set[str]:
    """The top-level variables a template reads (the engine's globals such as `range` are not variables).
    A syntax error, or a reference to another template (include, import, extends), is refused naming the field."""
    try:
        ast = _env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"Template syntax error on line {exc.lineno}: {exc.message}", field=field) from None
    if any(True for _ in meta.find_referenced_templates(ast)):
        raise TemplateError("A prompt template cannot include, import or extend other templates.", field=field)
    return set(meta.find_undeclared_variables(ast)) - set(_env.globals)


def check_declared(parts: PromptParts, declared: set[str]) -> None:
    """Every variable the templates use must be declared in the variables schema."""
    for field, source in (("system_template", parts.system), ("user_template", parts.user)):
        undeclared = sorted(template_variables(source, field=field) - declared)
        if undeclared:
            raise TemplateError(
                f"The template uses variables the schema does not declare: {', '.join(undeclared)}.", field=field
            )


@lru_cache(maxsize=1024)
def _compiled(source: str) -> Template:
    return _env.from_string(source)


def _bounded_render(template: Template, variables: Mapping[str, Any]) -> str:
    """Render piece by piece, stopping a template whose output grows too large or that runs too long."""
    started, size, pieces = time.perf_counter(), 0, []
    for piece in template.generate(**variables):
        size += len(piece)
        pieces.append(piece)
        if size > MAX_RENDERED_CHARS:
            raise SecurityError(f"the rendered prompt exceeds {MAX_RENDERED_CHARS} characters")
        if time.perf_counter() - started > MAX_RENDER_SECONDS:
            raise SecurityError(f"rendering took longer than {MAX_RENDER_SECONDS} s")
    return "".join(pieces)


def render_text(source: str, variables: Mapping[str, Any]) -> str:
    """One template rendered with `variables`; every failure is a TemplateError (a 400 for the caller)."""
    try:
        return _bounded_render(_compiled(source), variables)
    except SecurityError as exc:
        raise TemplateError(f"The template tried something it may not: {exc}") from None
    except UndefinedError as exc:
        match = _UNDEFINED_NAME.match(str(exc.message or ""))
        if match:
            raise TemplateError(f"Missing variable: {match['name']}.", variable=match["name"]) from None
        raise TemplateError(f"Missing value in the variables: {exc.message}.") from None
    except TemplateSyntaxError as exc:
        raise TemplateError(f"Template syntax error on line {exc.lineno}: {exc.message}") from None
    except (TemplateRuntimeError, ArithmeticError, LookupError, TypeError, ValueError) as exc:
        raise TemplateError(f"The template failed with these variables: {exc}") from None


def render_messages(parts: PromptParts, variables: Mapping[str, Any]) -> list[dict[str, str]]:
    """The chat messages of one invocation: system, few-shot examples, then the user message."""
    messages: list[dict[str, str]] = []
    if parts.system.strip():
        messages.append({"role": "system", "content": render_text(parts.system, variables)})
    for example in parts.examples:
        messages.append({"role": "user", "content": str(example.get("user", ""))})
        messages.append({"role": "assistant", "content": str(example.get("assistant", ""))})
    messages.append({"role": "user", "content": render_text(parts.user, variables)})
    return messages
