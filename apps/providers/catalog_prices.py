"""List prices (USD per 1M tokens: input, output, cached input) of well-known models, used to pre-fill prices
when a provider's model list is imported. Operators correct them per model; unknown models start at zero.

Cached input is the price of prompt tokens the provider read from its prompt cache, as each provider's public
price page listed it in December 2025: OpenAI's cached input (50 % of input for the gpt-4o and o1/o3-mini
families, 25 % for gpt-4.1 and o4-mini; https://platform.openai.com/docs/pricing), Anthropic's cache hits and
refreshes (10 % of base input; https://www.anthropic.com/pricing#api) and Gemini's context caching (prompts up to
200K tokens, storage billed apart; https://ai.google.dev/gemini-api/docs/pricing). None: the model has no
cached-input price, its cached tokens (if any) cost the input price."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import NamedTuple

KNOWN_PRICES: dict[str, tuple[str, str, str | None]] = {
    "gpt-4o": ("2.50", "10.00", "1.25"),
    "gpt-4o-mini": ("0.15", "0.60", "0.075"),
    "gpt-4.1": ("2.00", "8.00", "0.50"),
    "gpt-4.1-mini": ("0.40", "1.60", "0.10"),
    "gpt-4.1-nano": ("0.10", "0.40", "0.025"),
    "o3-mini": ("1.10", "4.40", "0.55"),
    "o4-mini": ("1.10", "4.40", "0.275"),
    "o1": ("15.00", "60.00", "7.50"),
    "text-embedding-3-small": ("0.02", "0", None),
    "text-embedding-3-large": ("0.13", "0", None),
    # Azure OpenAI's spellings of models it serves, at its Global Standard list prices
    # (https://azure.microsoft.com/pricing/details/cognitive-services/openai-service/); the names above are priced
    # the same on Azure and OpenAI.
    "gpt-35-turbo": ("0.50", "1.50", None),
    "text-embedding-ada-002": ("0.10", "0", None),
    # Anthropic, base input/output rates and cache reads. Cache writes (1.25x input for the 5-minute cache) have
    # no price of their own here: the anthropic client counts them in prompt tokens at the input price.
    "claude-opus-4-5": ("5.00", "25.00", "0.50"),
    "claude-opus-4-1": ("15.00", "75.00", "1.50"),
    "claude-opus-4": ("15.00", "75.00", "1.50"),
    "claude-sonnet-4-5": ("3.00", "15.00", "0.30"),
    "claude-sonnet-4": ("3.00", "15.00", "0.30"),
    "claude-3-7-sonnet": ("3.00", "15.00", "0.30"),
    "claude-haiku-4-5": ("1.00", "5.00", "0.10"),
    "claude-3-5-haiku": ("0.80", "4.00", "0.08"),
    "claude-3-haiku": ("0.25", "1.25", "0.03"),
    # Google Gemini API, paid tier, prompts up to 200K tokens (the gemini client counts cached tokens in prompt
    # tokens; 2.0 Flash-Lite has no context caching).
    "gemini-3-pro-preview": ("2.00", "12.00", "0.20"),
    "gemini-2.5-pro": ("1.25", "10.00", "0.125"),
    "gemini-2.5-flash": ("0.30", "2.50", "0.03"),
    "gemini-2.5-flash-lite": ("0.10", "0.40", "0.01"),
    "gemini-2.0-flash": ("0.10", "0.40", "0.025"),
    "gemini-2.0-flash-lite": ("0.075", "0.30", None),
    "gemini-embedding-001": ("0.15", "0", None),
}
# A dated snapshot (claude-…-20250929, gpt-4o-2024-08-06) or a numbered stable version (gemini-2.0-flash-001)
# of a listed model.
_VERSION_SUFFIX = re.compile(r"-(20\d\d-?\d\d-?\d\d|\d{3})")


class ListPrice(NamedTuple):
    input: Decimal
    output: Decimal
    cached_input: Decimal | None  # None: cached prompt tokens cost the input price


def known_price(model_id: str) -> ListPrice:
    base = model_id.split("/")[-1]
    for name in sorted(KNOWN_PRICES, key=len, reverse=True):
        if base == name or (base.startswith(f"{name}-") and _VERSION_SUFFIX.fullmatch(base[len(name) :])):
            price_in, price_out, price_cached = KNOWN_PRICES[name]
            return ListPrice(Decimal(price_in), Decimal(price_out), Decimal(price_cached) if price_cached else None)
    return ListPrice(Decimal(0), Decimal(0), None)
