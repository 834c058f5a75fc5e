"""List prices (USD per 1M tokens, input/output) of well-known models, used to pre-fill prices when a
provider's model list is imported. Operators correct them per model; unknown models start at zero."""

from __future__ import annotations

import re
from decimal import Decimal

KNOWN_PRICES: dict[str, tuple[str, str]] = {
    "gpt-4o": ("2.50", "10.00"),
    "gpt-4o-mini": ("0.15", "0.60"),
    "gpt-4.1": ("2.00", "8.00"),
    "gpt-4.1-mini": ("0.40", "1.60"),
    "gpt-4.1-nano": ("0.10", "0.40"),
    "o3-mini": ("1.10", "4.40"),
    "o4-mini": ("1.10", "4.40"),
    "o1": ("15.00", "60.00"),
    "text-embedding-3-small": ("0.02", "0"),
    "text-embedding-3-large": ("0.13", "0"),
    # Azure OpenAI's spellings of models it serves, at its Global Standard list prices
    # (https://azure.microsoft.com/pricing/details/cognitive-services/openai-service/); the names above are priced
    # the same on Azure and OpenAI.
    "gpt-35-turbo": ("0.50", "1.50"),
    "text-embedding-ada-002": ("0.10", "0"),
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
    # Google Gemini API, paid tier, prompts up to 200K tokens (https://ai.google.dev/gemini-api/docs/pricing;
    # context caching is billed apart; the gemini client counts cached tokens in prompt tokens).
    "gemini-3-pro-preview": ("2.00", "12.00"),
    "gemini-2.5-pro": ("1.25", "10.00"),
    "gemini-2.5-flash": ("0.30", "2.50"),
    "gemini-2.5-flash-lite": ("0.10", "0.40"),
    "gemini-2.0-flash": ("0.10", "0.40"),
    "gemini-2.0-flash-lite": ("0.075", "0.30"),
    "gemini-embedding-001": ("0.15", "0"),
}
# A dated snapshot (claude-…-20250929, gpt-4o-2024-08-06) or a numbered stable version (gemini-2.0-flash-001)
# of a listed model.
_VERSION_SUFFIX = re.compile(r"-(20\d\d-?\d\d-?\d\d|\d{3})")


def known_price(model_id: str) -> tuple[Decimal, Decimal]:
    base = model_id.split("/")[-1]
    for name in sorted(KNOWN_PRICES, key=len, reverse=True):
        if base == name or (base.startswith(f"{name}-") and _VERSION_SUFFIX.fullmatch(base[len(name) :])):
            price_in, price_out = KNOWN_PRICES[name]
            return Decimal(price_in), Decimal(price_out)
    return Decimal(0), Decimal(0)
