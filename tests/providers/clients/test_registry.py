"""The lazy registry of provider kinds, and the promise that the clients package stays free of Django."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from apps.providers.clients.anthropic import AnthropicClient
from apps.providers.clients.azure_openai import AzureOpenAIClient
from apps.providers.clients.base import ProviderClient
from apps.providers.clients.echo import EchoClient
from apps.providers.clients.gemini import GeminiClient
from apps.providers.clients.openai_compat import OpenAICompatibleClient
from apps.providers.clients.registry import CLIENT_KINDS, client_class, kind_choices

ROOT = Path(__file__).resolve().parents[3]


def test_each_kind_resolves_to_its_client_class():
    assert client_class("openai") is OpenAICompatibleClient
    assert client_class("echo") is EchoClient
    assert client_class("anthropic") is AnthropicClient
    assert client_class("gemini") is GeminiClient
    assert client_class("azure_openai") is AzureOpenAIClient
    for kind in CLIENT_KINDS:
        assert issubclass(client_class(kind), ProviderClient)
        assert client_class(kind).kind == kind


def test_an_unknown_kind_is_a_key_error_naming_the_known_ones():
    known = "anthropic, azure_openai, echo, gemini, openai"
    with pytest.raises(KeyError, match=rf"Unknown provider kind 'cohere'; known kinds: {known}"):
        client_class("cohere")


def test_kind_choices_list_kinds_with_their_labels():
    assert kind_choices() == [
        ("openai", "OpenAI-compatible"),
        ("anthropic", "Anthropic (Messages API)"),
        ("gemini", "Google Gemini API"),
        ("azure_openai", "Azure OpenAI"),
        ("echo", "Echo (local, offline)"),
    ]


def test_the_clients_package_imports_no_django():
    # A fresh interpreter: in this one, pytest-django has long imported Django.
    modules = [f"apps.providers.clients.{path.stem}" for path in (ROOT / "apps/providers/clients").glob("*.py")]
    code = (
        f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))"
    )

    command = [sys.executable, "-c", code]  # our own interpreter running our own code
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)  # noqa: S603

    assert len(modules) >= 6
    assert result.stdout.strip() == "[]"
