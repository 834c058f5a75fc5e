"""Rendering prompt templates safely (pure: no Django).

Templates are Jinja2 under a bounded sandbox (rendering/sandbox.py): no access to attributes starting with `_`, no
calling unsafe methods, nothing from the host but the variables given, and every render bounded in operations,
size, call depth and time while it runs (rendering/budget.py), whatever the template. A variable the template uses
but the caller did not give is an error naming it (StrictUndefined), never an empty string. Checking a template
when it is saved parses and compiles it without evaluating any of it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateRuntimeError, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError

from apps.prompts.rendering.budget import LIMITS, LimitExceeded, current, start, stop
from apps.prompts.rendering.sandbox import BoundedSandbox, VariablesCollector

MAX_RENDERED_CHARS = LIMITS.output_chars
# Checked when a template is saved: compiling one costs about 50 µs a tag, on the event loop of its first render.
MAX_TEMPLATE_CHARS = 100_000
MAX_TEMPLATE_TAGS = 2_000  # {{ … }} and {% … %}
MAX_TEMPLATE_NODES = 10_000  # what the tags hold: names, literals, operators, filters…
MAX_ERROR_DETAIL = 300

_env = BoundedSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_UNDEFINED_NAME = re.compile(r"^'(?P<name>[^']+)' is undefined$")


class TemplateError(Exception):
    """A template that cannot be saved (syntax) or rendered (missing variable, forbidden access, a limit)."""

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
    A syntax error, a template too long, too large or nested too deeply, or a reference to another template
    (include, import, extends) is refused naming the field. Nothing of the template runs: it is parsed and compiled,
    no constant folded."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"A template is at most {MAX_TEMPLATE_CHARS} characters long.", field=field)
    if source.count("{{") + source.count("{%") > MAX_TEMPLATE_TAGS:
        raise TemplateError(f"A template has at most {MAX_TEMPLATE_TAGS} {{{{ }}}} and {{% %}} tags.", field=field)
    try:
        ast = _env.parse(source)
        if sum(1 for _ in ast.find_all(nodes.Node)) > MAX_TEMPLATE_NODES:
            raise TemplateError(
                f"A template holds at most {MAX_TEMPLATE_NODES} names, literals, operators and filters.", field=field
            )
        if any(True for _ in meta.find_referenced_templates(ast)):
            raise TemplateError("A prompt template cannot include, import or extend other templates.", field=field)
        collector = VariablesCollector(_env)
        collector.visit(ast)
    except TemplateSyntaxError as exc:  # and TemplateAssertionError: an unknown filter or test
        raise TemplateError(f"Template syntax error on line {exc.lineno}: {exc.message}", field=field) from None
    except RecursionError:
        raise TemplateError("The template nests expressions too deeply.", field=field) from None
    except ValueError as exc:  # an integer literal longer than Python reads (4300 digits)
        raise TemplateError(f"The template has a value Python cannot read: {exc}", field=field) from None
    return collector.undeclared_identifiers - set(_env.globals)


def variable_lines(source: str, names: set[str]) -> dict[str, list[int]]:
    """The lines on which a template reads each of `names` (for an editor pointing at undeclared variables). Only
    called on a template template_variables accepted, so parsing cannot fail or run past its limits."""
    lines: dict[str, list[int]] = {}
    for node in _env.parse(source).find_all(nodes.Name):
        if node.name in names and node.ctx == "load" and node.lineno not in lines.get(node.name, []):
            lines.setdefault(node.name, []).append(node.lineno)
    return lines


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
    """Render under a fresh budget; the output is checked as it is produced, the rest as the template runs."""
    size, pieces = 0, []
    token = start()
    try:
        for piece in template.generate(**variables):
            size += len(piece)
            if size > MAX_RENDERED_CHARS:
                raise LimitExceeded(f"the rendered prompt exceeds {MAX_RENDERED_CHARS} characters")
            pieces.append(piece)
        current().step()  # the clock, once more at the end
    finally:
        stop(token)
    return "".join(pieces)


def _clipped(detail: object) -> str:
    """An error's own text, cut short: it may quote a value of the template, up to a megabyte long."""
    text = str(detail)
    return text if len(text) <= MAX_ERROR_DETAIL else f"{text[:MAX_ERROR_DETAIL]}…"


def render_text(source: str, variables: Mapping[str, Any]) -> str:
    """One template rendered with `variables`; every failure is a TemplateError (a 400 for the caller)."""
    try:
        return _bounded_render(_compiled(source), variables)
    except LimitExceeded as exc:
        raise TemplateError(f"The template went past a limit: {exc}.") from None
    except SecurityError as exc:
        raise TemplateError(f"The template tried something it may not: {_clipped(exc)}") from None
    except RecursionError:
        raise TemplateError("The template went past a limit: values or calls nested too deeply.") from None
    except MemoryError:
        raise TemplateError("The template went past a limit: it ran out of memory.") from None
    except UndefinedError as exc:
        match = _UNDEFINED_NAME.match(str(exc.message or ""))
        if match:
            raise TemplateError(f"Missing variable: {match['name']}.", variable=match["name"]) from None
        raise TemplateError(f"Missing value in the variables: {_clipped(exc.message)}.") from None
    except TemplateSyntaxError as exc:
        raise TemplateError(f"Template syntax error on line {exc.lineno}: {_clipped(exc.message)}") from None
    except (TemplateRuntimeError, ArithmeticError, LookupError, TypeError, ValueError) as exc:
        raise TemplateError(f"The template failed with these variables: {_clipped(exc)}") from None


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
