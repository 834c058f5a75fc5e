"""What one render may spend, counted while the template runs (pure: no Django).

Rendering runs on the gateway's event loop, so a template must end fast and small whatever it does. Every
operation a template can repeat (a loop iteration, a call, a filter and the items it walks, an operator) takes a
step from the budget, which also checks the clock; everything it builds (strings, lists, dicts, output) is charged
by size, before it is built when it could be large. The budget of the render in progress lives in a ContextVar:
outside a render there is none, and every guarded operation refuses, which also keeps Jinja2 from evaluating
anything while it compiles a template."""

from __future__ import annotations

import math
from contextvars import ContextVar, Token
from dataclasses import dataclass
from time import perf_counter

from jinja2.exceptions import SecurityError

from apps.prompts.rendering.sizes import measure, text_size


@dataclass(frozen=True)
class Limits:
    output_chars: int = 200_000  # the rendered prompt
    operations: int = 100_000  # loop iterations, calls, filters (and the items they walk), operators
    size: int = 1_000_000  # characters and items built in all, and the full size of any one value built
    call_depth: int = 40  # macros (and recursive loops) calling each other
    nesting: int = 100  # lists or dicts inside each other
    integer_digits: int = 4_300  # Python's own limit for printing an integer
    seconds: float = 0.25


LIMITS = Limits()
LOG2_10 = math.log2(10)


class LimitExceeded(SecurityError):
    """A render went past one of its limits; the message names the limit."""


class Budget:
    """The counters of one render."""

    __slots__ = ("built", "deadline", "depth", "limits", "operations", "sizes")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.operations = 0
        self.built = 0
        self.depth = 0
        self.deadline = perf_counter() + limits.seconds
        # id → (value, full size, nesting) of the lists, dicts and strings measured so far; holding the value keeps
        # its id from being reused while the render runs.
        self.sizes: dict[int, tuple[object, int, int]] = {}

    def step(self, count: int = 1) -> None:
        self.operations += count
        if self.operations > self.limits.operations:
            raise LimitExceeded(
                f"more than {self.limits.operations} operations (loop iterations, calls, filters and the items they"
                " walk, operators)"
            )
        if perf_counter() > self.deadline:
            raise LimitExceeded(f"rendering took longer than {self.limits.seconds} s")

    def remaining(self) -> int:
        return self.limits.size - self.built

    def require(self, size: int, what: str) -> None:
        """Refuse, before building it, something of `size` characters or items that the budget cannot take."""
        if size > self.limits.size - self.built:
            raise LimitExceeded(f"{what} would build more than {self.limits.size} characters or items in all")

    def charge(self, size: int, what: str) -> None:
        if size > self.limits.size - self.built:
            raise LimitExceeded(f"{what} would build more than {self.limits.size} characters or items in all")
        self.built += size

    def printed(self, value: object, *, mode: str = "str", indent: int = 0) -> int:
        """A bound of the length of `value` printed (sizes.text_size), its walk counted as operations."""
        return text_size(value, self.remaining(), step=self.step, mode=mode, indent=indent)

    def measured(self, value: object) -> tuple[int, int, int]:
        """(full size, nesting, new size) of a list or dict (sizes.measure), its walk counted as operations."""
        return measure(value, self.sizes, self.step)

    def record(self, value: object, full_size: int, nesting: int, what: str) -> object:
        """A list or tuple built from measured ones (`+`, `*`), its full size known without walking it."""
        self.check_value(full_size, nesting, what)
        self.charge(len(value), what)  # type: ignore[arg-type]
        self.sizes[id(value)] = (value, full_size, nesting)
        return value

    def check_value(self, full_size: int, nesting: int, what: str) -> None:
        """A list or dict is compared, hashed and printed at its full size: a part held twice counts twice."""
        if full_size > self.limits.size:
            raise LimitExceeded(f"{what} would build a value of more than {self.limits.size} characters or items")
        if nesting > self.limits.nesting:
            raise LimitExceeded(f"lists or dicts nested more than {self.limits.nesting} deep")

    def check_integer(self, bits: float, what: str) -> None:
        """Multiplying or dividing integers costs their sizes multiplied: none grows past what Python prints."""
        if bits > self.limits.integer_digits * LOG2_10:
            raise LimitExceeded(f"{what} would build an integer of more than {self.limits.integer_digits} digits")

    def enter(self) -> None:
        self.depth += 1
        if self.depth > self.limits.call_depth:
            raise LimitExceeded(f"calls nested more than {self.limits.call_depth} deep (a macro calling itself?)")


CURRENT: ContextVar[Budget | None] = ContextVar("prompt_render_budget", default=None)


def current() -> Budget:
    """The budget of the render in progress (hot paths write `CURRENT.get() or current()`, one call fewer)."""
    budget = CURRENT.get()
    if budget is None:
        raise SecurityError("templates run only inside a bounded render")
    return budget


def start(limits: Limits = LIMITS) -> Token[Budget | None]:
    """A fresh budget for the render about to run on this thread or task; give the token back to `stop`."""
    return CURRENT.set(Budget(limits))


def stop(token: Token[Budget | None]) -> None:
    CURRENT.reset(token)
