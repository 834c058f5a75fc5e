"""Limits as people read them on the usage panels: "1,234 requests", "$4.20", "resets in 3 h 12 min"."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def amount(value: Decimal, unit: str) -> str:
    """A reading's amount in its unit: whole requests and tokens, dollars to the cent."""
    if unit == "USD":
        return f"${value:,.2f}"
    return f"{int(value):,} {unit}"


@register.filter
def time_until(moment: datetime, now: datetime) -> str:
    """How long from `now` until `moment`, to the minute: "3 h 12 min", "2 d 5 h", "45 s" under a minute."""
    seconds = max(int((moment - now).total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else f"{seconds} s"
