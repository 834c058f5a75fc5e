"""Sizes of values, estimated without building them (pure: no Django).

`text_size` bounds what printing a value would produce and stops counting once past the limit, so that it costs
no more than the limit whatever the value (a list holding the same list many times prints it many times).
`measure` gives the full size of a list or dict (what comparing, hashing or printing it costs) and the size of the
parts this render had not seen before (what building it added), remembering what it measured."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any

from jinja2.utils import Namespace

_KEYS: type[Any] = type({}.keys())
_VALUES: type[Any] = type({}.values())
_ITEMS: type[Any] = type({}.items())
_SEQUENCES = (list, tuple, set, frozenset, _KEYS, _VALUES)
CONTAINERS = (list, tuple, dict, set, frozenset)
OTHER_OBJECT = 200  # the repr of a function, a macro, a loop: "<Macro 'name'>"
NUMBER_TEXT = 330  # a float printed in full ('%f' % 1e308) or a conversion's sign, prefix and point
_HUGE = 10**18
_DIGITS = re.compile(r"\d+")
# After '%' (and a mapping key): flags, width, '.' precision, a length modifier CPython skips, the conversion.
_PRINTF_SPEC = re.compile(r"[-+ #0]*(\*|[0-9]*)(?:\.(\*|[0-9]*))?[hlL]?(.?)", re.DOTALL)


def _quoted(text: str | bytes, json: bool) -> int:
    """A bound of len(repr(text)), or of its JSON form (ASCII only, with Jinja2's HTML-safe escapes of <>&')."""
    if isinstance(text, bytes):
        return 4 * len(text) + 3
    if not text.isprintable() or (json and not text.isascii()):
        return (12 if json else 10) * len(text) + 2
    if json:
        return len(text) + 2 + 5 * sum(text.count(char) for char in "<>&'") + text.count('"') + text.count("\\")
    return len(text) + 2 + text.count("'") + text.count("\\")


Step = Callable[[int], None]


def text_size(value: Any, limit: int, *, step: Step, mode: str = "str", indent: int = 0) -> int:
    """A bound of len(str(value)) (mode "repr": of repr(value), "json": of its JSON), with `indent` spaces a level
    when the output is indented; past `limit` the count stops and what it reached is returned. Each list or dict
    walked takes `step(len)` first: walking is work too."""
    kind = type(value)
    if kind is str:
        return len(value) if mode == "str" else _quoted(value, mode == "json")
    if kind is float:
        return 24
    if kind is int:
        bits: int = value.bit_length()
        return bits * 30103 // 100000 + 2  # decimal digits, and a sign
    total = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    top = mode == "str"
    while stack:
        obj, level = stack.pop()
        if isinstance(obj, str | bytes):
            total += len(obj) if top and isinstance(obj, str) else _quoted(obj, mode == "json")
        elif isinstance(obj, bool) or obj is None:
            total += 5
        elif isinstance(obj, int):
            total += obj.bit_length() * 30103 // 100000 + 2
        elif isinstance(obj, float):
            total += 24
        elif isinstance(obj, Namespace):
            total += 13
            stack.append((object.__getattribute__(obj, "_Namespace__attrs"), level))
        elif isinstance(obj, dict | _ITEMS):
            total += 16 + len(obj) * (6 + (indent * (level + 1) + 1 if indent else 0))
            if total <= limit:
                step(len(obj))
                pairs = obj.items() if isinstance(obj, dict) else obj
                stack.extend((part, level + 1) for part in chain.from_iterable(pairs))
        elif isinstance(obj, _SEQUENCES):
            total += 16 + len(obj) * (2 + (indent * (level + 1) + 1 if indent else 0))
            if total <= limit:
                step(len(obj))
                stack.extend((part, level + 1) for part in obj)
        else:
            total += OTHER_OBJECT
        top = False
        if total > limit:
            break
    return total


def _parts(obj: Any) -> Iterable[Any]:
    return chain(obj.keys(), obj.values()) if isinstance(obj, dict) else obj


def measure(value: Any, seen: dict[int, tuple[Any, int, int]], step: Step) -> tuple[int, int, int]:
    """(full size, nesting, new size) of a list, tuple, dict or set. Strings count their length, other values 1;
    a part met twice counts twice in the full size and once, the first time this render meets it, in the new size.
    `seen` maps the id of what was measured to (value, full size, nesting); each list or dict not seen before takes
    `step(len)` as it is walked."""
    known = seen.get(id(value))
    if known is not None:
        return known[1], known[2], 0
    new = 0
    stack = [value]
    while stack:
        obj = stack[-1]
        if id(obj) in seen:
            stack.pop()
            continue
        step(len(obj))
        full, nesting, pending = 1, 0, []
        for part in _parts(obj):
            if isinstance(part, str | bytes):
                full += len(part)
                if id(part) not in seen:
                    seen[id(part)] = (part, len(part), 0)
                    new += len(part)
            elif isinstance(part, CONTAINERS):
                measured = seen.get(id(part))
                if measured is None:
                    pending.append(part)
                else:
                    full += measured[1]
                    nesting = max(nesting, measured[2])
            else:
                full += 1
        if pending:  # measured first, then this one again
            stack.extend(pending)
            continue
        stack.pop()
        new += len(obj)
        seen[id(obj)] = (obj, full, nesting + 1)
    _, full, nesting = seen[id(value)]
    return full, nesting, new


def _number(text: str) -> int:
    return int(text) if len(text) <= 18 else _HUGE


def printf_size(fmt: str | bytes, values: Any, limit: int, step: Step) -> int:
    """A bound of len(fmt % values): the format's text plus, for each conversion, its width and precision (those
    given by '*' bounded by the largest integer among the values) and the printed size of the largest value."""
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    pool = tuple(values.values()) if isinstance(values, dict) else values if isinstance(values, tuple) else (values,)
    total, stars, conversions, needs_repr = len(text), 0, 0, False
    index = text.find("%")
    while index != -1:
        at = index + 1
        if text.startswith("(", at):  # a mapping key, parentheses balanced as CPython reads them
            depth, at = 1, at + 1
            while at < len(text) and depth:
                depth += {"(": 1, ")": -1}.get(text[at], 0)
                at += 1
        spec = _PRINTF_SPEC.match(text, at)
        for number in spec.group(1, 2):  # type: ignore[union-attr]
            if number == "*":
                stars += 1
            elif number:
                total = min(total + _number(number), _HUGE)
        kind = spec.group(3)  # type: ignore[union-attr]
        needs_repr = needs_repr or kind in ("r", "a")
        conversions += kind != "%"
        index = text.find("%", spec.end())  # type: ignore[union-attr]
    if stars:
        total += stars * max((abs(v) for v in pool if isinstance(v, int)), default=0)
    if conversions:
        mode = "repr" if needs_repr else "str"
        total += conversions * (max((text_size(v, limit, mode=mode, step=step) for v in pool), default=0) + NUMBER_TEXT)
    return total


def spec_size(format_spec: str) -> int:
    """A bound of what a str.format field's spec adds (its width and precision) to the value's own text."""
    return min(sum(_number(run) for run in _DIGITS.findall(format_spec)), _HUGE) + NUMBER_TEXT
