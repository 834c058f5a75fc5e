"""The bounded sandbox: Jinja2's immutable sandbox with every operation a template can repeat or grow counted
against the render's budget (pure: no Django).

The sandbox calls back into the environment for calls, intercepted operators, subscripts and str.format; the code
generator routes the rest through it too: each for loop's iterable, literal lists and dicts, `~` and every piece of
output. At compile time it evaluates nothing but literal text (Jinja2 otherwise folds constant expressions, so
compiling `{{ '%9999999999d' % 1 }}` would build the string)."""

from __future__ import annotations

import math
import types
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.meta import TrackingCodeGenerator
from jinja2.runtime import Context, LoopContext, Macro, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from markupsafe import Markup

from apps.prompts.rendering.budget import CURRENT, current
from apps.prompts.rendering.guards import (
    MARKUP_ESCAPES,
    SCALARS,
    Counted,
    admit,
    bounded_range,
    guard_filter,
    guard_test,
    prepare_call,
)
from apps.prompts.rendering.sizes import printf_size, spec_size


class BoundedCodeGenerator(CodeGenerator):
    """Compiles loops, literal lists and dicts, `~` and the output to go through the budget; folds no constants."""

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        if not isinstance(node, nodes.TemplateData):
            raise nodes.Impossible()
        return super()._output_child_to_const(node, frame, finalize)

    def _output_const_repr(self, group: Any) -> str:
        return f"environment.emitted({super()._output_const_repr(group)})"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loop_iterables: set[int] = set()

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        # Jinja2 allows no new node types: the loop's iterable is marked, and wrapped when visited.
        self._loop_iterables.add(id(node.iter))
        super().visit_For(node, frame)

    def visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        if id(node) in self._loop_iterables:
            self.write("environment.counted(")
            super().visit(node, *args, **kwargs)
            self.write(")")
            return None
        return super().visit(node, *args, **kwargs)

    def _built(self, visit: Any, node: nodes.Expr, frame: Frame) -> None:
        self.write("environment.built(")
        visit(node, frame)
        self.write(")")

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self._built(super().visit_List, node, frame)

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self._built(super().visit_Dict, node, frame)

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx == "load":  # not the targets of `{% for a, b in … %}` or `{% set a, b = … %}`
            self._built(super().visit_Tuple, node, frame)
        else:
            super().visit_Tuple(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.joined(context, (")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write("))")


class VariablesCollector(TrackingCodeGenerator, BoundedCodeGenerator):
    """The variables a template reads, found by compiling it without evaluating anything (jinja2.meta's way)."""


class _BoundedFormatter(SandboxedFormatter):
    """str.format's fields, each estimated before it is formatted: '{:>9999999999}' is refused, not built."""

    growth = 1

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion in ("r", "a"):
            budget = current()
            size = budget.printed(value, mode="repr") * (10 if conversion == "a" else 1)
            budget.require(size, "str.format")
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        budget = current()
        budget.step()
        budget.require(self.growth * (budget.printed(value) + spec_size(format_spec)), "str.format")
        result = super().format_field(value, format_spec)
        budget.charge(len(result), "str.format")
        return result


class _BoundedEscapeFormatter(_BoundedFormatter, SandboxedEscapeFormatter):
    growth = MARKUP_ESCAPES


def _finalize(value: Any) -> Any:
    """Every value a template outputs, charged before it is printed: printing a list prints all it holds."""
    budget = CURRENT.get() or current()
    kind = type(value)
    if kind is str:
        size = len(value)
    elif kind is int:
        size = value.bit_length() * 30103 // 100000 + 2
    else:
        size = budget.printed(value)
    budget.charge(size, "the output")
    return value


_SEQUENCES = (str, bytes, list, tuple)


def _name(obj: Any) -> str:
    return getattr(obj, "__qualname__", None) or type(obj).__name__


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, bounded in operations, size, call depth and time by the render's budget."""

    code_generator_class = BoundedCodeGenerator
    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(optimized=False, finalize=_finalize, **options)
        # pprint's output grows with the nesting times the length of the keys: no bound to estimate it by.
        self.filters = {name: guard_filter(name, func) for name, func in self.filters.items() if name != "pprint"}
        tests: dict[str, Any] = self.tests
        self.tests = {name: guard_test(func) for name, func in tests.items()}
        self.globals["range"] = bounded_range

    # --- called by the compiled templates -------------------------------------------------------------------------

    def counted(self, iterable: Any) -> Counted:
        return Counted(iterable)

    def built(self, value: Any) -> Any:
        return admit(current(), value, "a literal list or dict")

    def emitted(self, text: str) -> str:
        (CURRENT.get() or current()).charge(len(text), "the output")
        return text

    def joined(self, context: Context, parts: tuple[Any, ...]) -> str:
        budget = current()
        size = 0
        for part in parts:
            size += len(part) if type(part) is str else budget.printed(part)
        budget.charge(size, "the ~ operator")
        return (markup_join if context.eval_ctx.autoescape else str_join)(parts)

    # --- the sandbox's hooks --------------------------------------------------------------------------------------

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = CURRENT.get() or current()
        budget.step()
        if isinstance(obj, LoopContext):  # loop(children) in a recursive loop walks them
            args = (Counted(args[0]), *args[1:]) if args else args
        else:
            args = prepare_call(budget, obj, args, kwargs)
        budget.enter()
        try:
            result = super().call(context, obj, *args, **kwargs)
        finally:
            budget.depth -= 1
        if type(result) in SCALARS or result is getattr(obj, "__self__", None):  # 'a'.strip() is 'a'
            return result
        return admit(budget, result, f"the macro {obj.name}" if isinstance(obj, Macro) else f"calling {_name(obj)}")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = CURRENT.get() or current()
        budget.step()
        what, apply = f"the {operator} operator", self.binop_table[operator]
        if isinstance(left, int) and isinstance(right, int) and operator in ("*", "**"):
            if operator == "*":
                budget.check_integer(left.bit_length() + right.bit_length(), what)
            elif abs(left) > 1 and right > 0:
                budget.check_integer(math.log2(abs(left)) * right, what)
        elif operator == "%" and isinstance(left, str | bytes):
            growth = MARKUP_ESCAPES if isinstance(left, Markup) else 1
            budget.require(growth * printf_size(left, right, budget.remaining(), budget.step), what)
        elif operator == "*":
            seq, times = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(seq, _SEQUENCES) and isinstance(times, int):
                budget.require(len(seq) * max(times, 0), what)
                if isinstance(seq, list | tuple):  # sized from the parts' sizes, not by walking the copies
                    full, nesting, _ = budget.measured(seq)
                    return budget.record(apply(left, right), (full - 1) * max(times, 0) + 1, nesting, what)
        elif operator == "+" and isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
            budget.require(len(left) + len(right), what)
            if type(left) in (list, tuple) and type(left) is type(right):
                left_full, left_nesting, _ = budget.measured(left)
                right_full, right_nesting, _ = budget.measured(right)
                result = apply(left, right)
                return budget.record(result, left_full + right_full - 1, max(left_nesting, right_nesting), what)
        return admit(budget, apply(left, right), what)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(argument, slice):  # a copy: charged like anything built
            budget = current()
            budget.step()
            return admit(budget, super().getitem(obj, argument), "a slice")
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Any:
        """Jinja2's own wrapping of str.format and str.format_map, with formatters that estimate each field."""
        if not isinstance(value, types.MethodType | types.BuiltinMethodType) or value.__name__ not in (
            "format",
            "format_map",
        ):
            return None
        text = value.__self__
        if not isinstance(text, str):
            return None
        formatter = (
            _BoundedEscapeFormatter(self, escape=text.escape) if isinstance(text, Markup) else _BoundedFormatter(self)
        )
        is_format_map = value.__name__ == "format_map"

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs:
                    raise TypeError("format_map() takes no keyword arguments")
                if len(args) != 1:
                    raise TypeError(f"format_map() takes exactly one argument ({len(args)} given)")
                kwargs, args = args[0], ()
            return type(text)(formatter.vformat(text, args, kwargs))

        return wrapper
