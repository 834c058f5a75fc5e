"""List prices (USD per 1M tokens, input/output) of well-known models, used to pre-fill prices when a
provider's model list is imported. Operators correct them per model; unknown models start at zero."""

from __future__ import annotations

from decimal import Decimal

KNOWN_PRICES: dict[str, tuple[str, str]] = {
    "gpt-4o": ("2.50", "10.00"),
    "gpt-4o-mini": ("0.15", "0.60"),
    "gpt-4.1": ("2.00", "8.00"),
    "gpt-4.1-mini": ("0.40", "1.60"),
    "gpt-4.1-nano": ("0.10", "0.40"),
    "o3-mini": ("1.10", "4.40"),
    "text-embedding-3-small": ("0.02", "0"),
    "text-embedding-3-large": ("0.13", "0"),
    # Anthropic, base input/output rates (https://www.anthropic.com/pricing#api; cache writes and reads are
    # billed apart and counted in prompt tokens by the anthropic client).
    "claude-opus-4-5": ("5.00", "25.00"),
    "claude-opus-4-1": ("15.00", "75.00"),
    "claude-opus-4": ("15.00", "75.00"),
    "claude-sonnet-4-5": ("3.00", "15.00"),
    "claude-sonnet-4": ("3.00", "15.00"),
    "claude-3-7-sonnet": ("3.00", "15.00"),
    "claude-haiku-4-5": ("1.00", "5.00"),
    "claude-3-5-haiku": ("0.80", "4.00"),
    "claude-3-haiku": ("0.25", "1.25"),
}


def known_price(model_id: str) -> tuple[Decimal, Decimal]:
    base = model_id.split("/")[-1]
    for name in sorted(KNOWN_PRICES, key=len, reverse=True):
        if base == name or base.startswith(f"{name}-20"):
            price_in, price_out = KNOWN_PRICES[name]
            return Decimal(price_in), Decimal(price_out)
    return Decimal(0), Decimal(0)
