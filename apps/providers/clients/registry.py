"""Provider kinds and their client classes, imported on first use (healthchecks' TRANSPORTS).

A process imports only the kinds it calls, so importing this module (forms, admin, settings checks) costs
nothing, and adding a kind is one line here plus one module.
"""

from __future__ import annotations

import functools
import importlib

from apps.providers.clients.base import ProviderClient

# kind -> (label shown in forms, dotted path of its ProviderClient subclass)
CLIENT_KINDS: dict[str, tuple[str, str]] = {
    "openai": ("OpenAI-compatible", "apps.providers.clients.openai_compat.OpenAICompatibleClient"),
    "anthropic": ("Anthropic (Messages API)", "apps.providers.clients.anthropic.AnthropicClient"),
    "gemini": ("Google Gemini API", "apps.providers.clients.gemini.GeminiClient"),
    "azure_openai": ("Azure OpenAI", "apps.providers.clients.azure_openai.AzureOpenAIClient"),
    "echo": ("Echo (local, offline)", "apps.providers.clients.echo.EchoClient"),
}


@functools.cache
def client_class(kind: str) -> type[ProviderClient]:
    """The client class for `kind`; KeyError names the known kinds when `kind` is not one of them."""
    try:
        _, path = CLIENT_KINDS[kind]
    except KeyError:
        raise KeyError(f"Unknown provider kind {kind!r}; known kinds: {', '.join(sorted(CLIENT_KINDS))}") from None
    module_name, _, class_name = path.rpartition(".")
    cls: type[ProviderClient] = getattr(importlib.import_module(module_name), class_name)
    return cls


def kind_choices() -> list[tuple[str, str]]:
    """(kind, label) pairs for a form's or model field's `choices`."""
    return [(kind, label) for kind, (label, _) in CLIENT_KINDS.items()]
