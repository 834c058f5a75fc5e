"""The checks a guarded operation makes before and after it runs (pure: no Django).

Before: an operation that can build far more than it is given (padding to a width, replacing, joining, formatting,
repeating) has its result's size estimated from its arguments and is refused when the budget cannot take it.
After: what it returned is charged (`admit`), and a lazy result is counted step by step (`Counted`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from jinja2 import pass_context
from jinja2.filters import make_attrgetter
from jinja2.runtime import Context
from jinja2.utils import Cycler, Namespace, _PassArg, generate_lorem_ipsum
from markupsafe import Markup

from apps.prompts.rendering.budget import CURRENT, Budget, LimitExceeded, current
from apps.prompts.rendering.sizes import CONTAINERS, printf_size

Estimate = Callable[..., int]
SCALARS = frozenset({float, bool, type(None)})  # nothing to charge; integers are checked for size
Arguments = tuple[tuple[Any, ...], dict[str, Any]]


class Counted:
    """An iterable whose every step counts against the render's budget: what a for loop walks, and what a call or
    a filter returns lazily (map, select, batch...)."""

    __slots__ = ("_iterable",)

    def __init__(self, iterable: Any) -> None:
        self._iterable = iterable

    def __iter__(self) -> Iterator[Any]:
        step = (CURRENT.get() or current()).step
        for item in self._iterable:
            step()
            yield item

    def __len__(self) -> int:  # loop.length and loop.last of a list need not walk it
        return len(self._iterable)

    def __repr__(self) -> str:
        return repr(self._iterable)


def admit(budget: Budget, value: Any, what: str) -> Any:
    """Charge what an operation returned: a string its length; a list or dict the parts it added, its full size and
    nesting staying within the limits (comparing, hashing or printing it costs that much); an iterator is counted."""
    kind = type(value)
    if kind is str:
        budget.charge(len(value), what)
    elif kind is int:
        budget.check_integer(value.bit_length(), what)
    elif kind in SCALARS:
        pass
    elif isinstance(value, str | bytes):
        budget.charge(len(value), what)
    elif isinstance(value, CONTAINERS):
        full, nesting, new = budget.measured(value)
        budget.check_value(full, nesting, what)
        budget.charge(new, what)
    elif isinstance(value, Namespace):
        budget.charge(len(object.__getattribute__(value, "_Namespace__attrs")), what)
    elif isinstance(value, Cycler):
        budget.charge(len(value.items), what)
    elif isinstance(value, Iterator):
        return Counted(value)
    return value


def _int(value: Any) -> int:
    """An integer argument as given; anything else counts 0 (the call itself will refuse it)."""
    return value if isinstance(value, int) else 0


# --- methods of the values a template holds ---------------------------------------------------------------------


def _pad(budget: Budget, s: str | bytes, width: Any, *_: Any) -> int:
    return max(len(s), _int(width))


def _expandtabs(budget: Budget, s: str | bytes, tabsize: Any = 8) -> int:
    return len(s) + s.count("\t" if isinstance(s, str) else b"\t") * max(_int(tabsize), 0)  # type: ignore[arg-type]


def _replacing(s: Any, old: Any, new: Any, count: Any) -> int:
    if not (isinstance(s, str) and isinstance(old, str) and isinstance(new, str)) and not (
        isinstance(s, bytes) and isinstance(old, bytes) and isinstance(new, bytes)
    ):
        return 0
    times = len(s) + 1 if not old else s.count(old)  # type: ignore[arg-type]
    if isinstance(count, int) and count >= 0:
        times = min(times, count)
    return len(s) + times * max(len(new) - len(old), 0)


def _replace(budget: Budget, s: str | bytes, old: Any, new: Any, count: Any = -1) -> int:
    return _replacing(s, old, new, count)


def _join(budget: Budget, s: str | bytes, items: list[Any]) -> int:
    try:
        return len(s) * max(len(items) - 1, 0) + sum(map(len, items))
    except TypeError:  # an item that is not text: join itself refuses it
        return 0


def _translate(budget: Budget, s: str | bytes, table: Any, *_: Any) -> int:
    if isinstance(s, str) and isinstance(table, dict):
        return len(s) * max([1, *(len(v) for v in table.values() if isinstance(v, str))])
    return len(s)


def _to_bytes(budget: Budget, number: int, length: Any = 1, *_: Any, **__: Any) -> int:
    return _int(length)


def _lipsum(budget: Budget, n: Any = 5, html: Any = True, min: Any = 20, max: Any = 100) -> int:
    longest = _int(max) if _int(max) > _int(min) else _int(min)
    return _int(n) * (longest * 20 + 20)  # no word of the generator is longer than 19 characters


TEXT_METHODS: dict[str, Estimate] = {
    "center": _pad,
    "ljust": _pad,
    "rjust": _pad,
    "zfill": _pad,
    "expandtabs": _expandtabs,
    "replace": _replace,
    "join": _join,
    "translate": _translate,
}
MARKUP_ESCAPES = 6  # Markup's methods escape their arguments: '"' becomes '&#34;'


def prepare_call(budget: Budget, obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Refuse a call that would build more than the budget can take, for the calls that can build more than they
    are given; returns the arguments to call with (str.join's gathered into a list, so that its size is known)."""
    receiver, name = getattr(obj, "__self__", None), getattr(obj, "__name__", "")
    if isinstance(receiver, str | bytes) and name in TEXT_METHODS:
        if name == "join" and len(args) == 1 and not isinstance(args[0], list | tuple):
            args = (list(args[0]),)  # a lazy one is counted as it is walked
        size = TEXT_METHODS[name](budget, receiver, *args, **kwargs)
        budget.require(
            size * (MARKUP_ESCAPES if isinstance(receiver, Markup) else 1), f"{type(receiver).__name__}.{name}"
        )
    elif isinstance(receiver, int) and name == "to_bytes":
        budget.require(_to_bytes(budget, receiver, *args, **kwargs), "int.to_bytes")
    elif obj is generate_lorem_ipsum:
        budget.require(_lipsum(budget, *args, **kwargs), "lipsum")
    return args


def bounded_range(*args: int) -> range:
    """range(), no longer than the operations a render may take (a longer one could never be walked)."""
    numbers = range(*args)
    limit = (CURRENT.get() or current()).limits.operations
    try:
        too_long = len(numbers) > limit
    except OverflowError:  # longer than Python can count
        too_long = True
    if too_long:
        raise LimitExceeded(f"range() of more than {limit} numbers")
    return numbers


# --- filters -----------------------------------------------------------------------------------------------------


def _length(value: Any) -> int:
    try:
        return len(value)
    except TypeError:  # lazy: counted as it is walked
        return 0


def _center(budget: Budget, value: Any, width: Any = 80) -> int:
    return max(budget.printed(value), _int(width))


def _indent(budget: Budget, s: Any, width: Any = 4, first: Any = False, blank: Any = False) -> int:
    size = budget.printed(s)
    lines = (s.count("\n") if isinstance(s, str) else size) + 2
    return size + lines * (len(width) if isinstance(width, str) else max(_int(width), 0))


def _format(budget: Budget, value: Any, *args: Any, **kwargs: Any) -> int:
    if not isinstance(value, str):
        size = budget.printed(value)
        if size > budget.remaining():
            return size
        value = str(value)
    return printf_size(value, kwargs or args, budget.remaining(), budget.step)


def _replace_filter(budget: Budget, s: Any, old: Any, new: Any, count: Any = None) -> int:
    if isinstance(s, str) and isinstance(old, str) and isinstance(new, str):
        return _replacing(s, old, new, count)
    size = budget.printed(s)
    return size + (size + 1) * budget.printed(new)


def _join_filter(budget: Budget, items: list[Any], d: Any = "", attribute: Any = None) -> int:
    total = budget.printed(d) * max(len(items) - 1, 0)
    if all(type(item) is str for item in items):
        return total + sum(map(len, items))
    for item in items:  # printed one by one: a list among them prints all it holds
        total += budget.printed(item)
        if total > budget.remaining():
            break
    return total


def _sum_filter(budget: Budget, items: list[Any], attribute: Any = None, start: Any = 0) -> int:
    """sum() of lists builds each partial sum: its cost grows with the square of the items."""
    if not isinstance(start, list | tuple):
        return 0
    running = total = len(start)
    for item in items:
        running += len(item) if isinstance(item, list | tuple) else 1
        total += running
        if total > budget.remaining():
            break
    return total


def _batch(budget: Budget, value: Any, linecount: Any, fill_with: Any = None) -> int:
    return 0 if fill_with is None else max(_int(linecount), 0) * (budget.printed(fill_with) + 1)


def _wordwrap(budget: Budget, s: Any, width: Any = 79, breaks: Any = True, wrapstring: Any = None, *_: Any) -> int:
    size = budget.printed(s)
    return size + (size + 1) * (budget.printed(wrapstring) if wrapstring is not None else 1)


def _urlize(budget: Budget, value: Any, trim_url_limit: Any = None, nofollow: Any = False, target: Any = None,
            rel: Any = None, extra_schemes: Any = None) -> int:  # fmt: skip
    size = budget.printed(value)
    extra = sum(budget.printed(attribute) for attribute in (target, rel) if attribute is not None)
    return MARKUP_ESCAPES * size + _words(value) * (extra + 60)


def _tojson(budget: Budget, value: Any, indent: Any = None) -> int:
    return budget.printed(value, mode="json", indent=max(_int(indent), 0))


def _stringify(factor: int) -> Estimate:
    """The filters that print their value (a list becomes its repr) and turn each character into at most `factor`
    characters; text that is only copied is charged once built."""

    def estimate(budget: Budget, value: Any, *args: Any, **kwargs: Any) -> int:
        return 0 if factor == 1 and isinstance(value, str) else factor * budget.printed(value)

    return estimate


FILTER_SIZES: dict[str, Estimate] = {
    "batch": _batch,
    "center": _center,
    "format": _format,
    "indent": _indent,
    "join": _join_filter,
    "replace": _replace_filter,
    "sum": _sum_filter,
    "tojson": _tojson,
    "urlize": _urlize,
    "wordwrap": _wordwrap,
    # Case changes can turn one character into three ('ß' → 'SS'); escaping into six ('&#34;'); URL-encoding
    # into twelve (four UTF-8 bytes, each '%XX').
    **dict.fromkeys(("capitalize", "lower", "title", "upper"), _stringify(3)),
    **dict.fromkeys(("e", "escape", "forceescape", "xmlattr"), _stringify(MARKUP_ESCAPES)),
    "urlencode": _stringify(12),
    **dict.fromkeys(
        ("filesizeformat", "float", "int", "safe", "string", "striptags", "trim", "truncate", "wordcount"),
        _stringify(1),
    ),
}


def _words(value: Any) -> int:
    return value.count(" ") + value.count("\n") + 1 if isinstance(value, str) else 1


def _per_item(value: Any, *_: Any, **__: Any) -> int:
    return _length(value)


def _per_char(value: Any, *_: Any, **__: Any) -> int:
    return len(value) if isinstance(value, str) else _length(value)


_WALKING = (
    *("batch", "dictsort", "groupby", "join", "map", "max", "min", "reject", "rejectattr", "select"),
    *("selectattr", "sort", "sum", "unique", "xmlattr"),
)
# The filters that walk their input in Python, one step per item (or tag, word, line): counted as operations
# before they run, so that one filter cannot go on long after the clock ran out.
FILTER_WORK: dict[str, Callable[..., int]] = {
    **dict.fromkeys(_WALKING, _per_item),
    "striptags": lambda value, *_, **__: value.count("<") if isinstance(value, str) else 1,
    "title": lambda s, *_, **__: s.count(" ") + s.count("-") + s.count("\n") if isinstance(s, str) else 1,
    "indent": lambda s, *_, **__: s.count("\n") if isinstance(s, str) else 1,
    "urlize": lambda value, *_, **__: _words(value),
    "urlencode": _per_char,
    "wordwrap": lambda s, width=79, *_, **__: _words(s) + (len(s) // max(_int(width), 1) if isinstance(s, str) else 0),
}


def _gathered(environment: Any, value: Any, attribute: Any) -> list[Any]:
    if attribute is None:
        return list(value)
    getter = make_attrgetter(environment, attribute)
    return [getter(item) for item in value]


def _gather_join(environment: Any, value: Any, d: Any = "", attribute: Any = None) -> Arguments:
    return (_gathered(environment, value, attribute), d), {}


def _gather_sum(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Arguments:
    return (_gathered(environment, iterable, attribute),), {"start": start}


# join and sum get their items as a list (an attribute already taken), so that their size is known beforehand.
GATHERING: dict[str, Callable[..., Arguments]] = {"join": _gather_join, "sum": _gather_sum}


def _caller(func: Callable[..., Any]) -> Callable[..., Any]:
    """Call `func` the way Jinja2 would, passing what it asks for (context, eval context or environment)."""
    pass_arg = _PassArg.from_obj(func)
    if pass_arg is _PassArg.context:
        return func
    if pass_arg is _PassArg.eval_context:
        return lambda context, *args, **kwargs: func(context.eval_ctx, *args, **kwargs)
    if pass_arg is _PassArg.environment:
        return lambda context, *args, **kwargs: func(context.environment, *args, **kwargs)
    return lambda context, *args, **kwargs: func(*args, **kwargs)


def guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` counted, its result estimated beforehand when it can grow, and charged. Taking the context also keeps
    Jinja2 from calling it while compiling (constant folding)."""
    call, what = _caller(func), f"the {name} filter"
    size, work, gather = FILTER_SIZES.get(name), FILTER_WORK.get(name), GATHERING.get(name)

    @pass_context
    def guarded(context: Context, *args: Any, **kwargs: Any) -> Any:
        budget = CURRENT.get() or current()
        budget.step(1 + (work(*args, **kwargs) if work is not None else 0))
        if gather is not None:
            args, kwargs = gather(context.environment, *args, **kwargs)
        if size is not None:
            budget.require(size(budget, *args, **kwargs), what)
        result = call(context, *args, **kwargs)
        return result if args and result is args[0] else admit(budget, result, what)  # `default`: nothing new

    return guarded


def guard_test(func: Callable[..., Any]) -> Callable[..., Any]:
    """A test (`is divisibleby`) counted as an operation; tests return booleans, there is nothing to charge."""
    call = _caller(func)

    @pass_context
    def guarded(context: Context, *args: Any, **kwargs: Any) -> Any:
        (CURRENT.get() or current()).step()
        return call(context, *args, **kwargs)

    return guarded
