"""Numbers of the analytics pages as people read them: 12.5 %, 340 ms, 1.2 s, 48.2k, $0.0123."""

from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()
DASH = "—"


@register.filter
def percent(rate: float | None) -> str:
    """A 0..1 rate as a percentage; "—" when there is nothing to divide."""
    if rate is None:
        return DASH
    value = rate * 100
    return f"{value:.0f} %" if value >= 10 or value == 0 else f"{value:.2g} %" if value < 1 else f"{value:.1f} %"


@register.filter
def ms(value: float | None) -> str:
    if value is None:
        return DASH
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


@register.filter
def compact(value: int | None) -> str:
    """48213 → 48.2k, 1250000 → 1.25M: counts that fit a tile."""
    if value is None:
        return DASH
    for size, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return str(value)


@register.filter
def money(value: Decimal | float | None) -> str:
    """US dollars: cents from a dollar up, four significant digits below (model calls cost fractions of cents)."""
    if value is None:
        return DASH
    amount = Decimal(value)
    if amount == 0:
        return "$0"
    if abs(amount) >= 1:
        return f"${amount:,.2f}"
    return f"${float(amount):.4g}"
