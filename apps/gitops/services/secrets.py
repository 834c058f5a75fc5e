"""Secrets written in clear in a definition file: refused before anything else is read, naming where they are.

A provider's `api_key` must be a reference (env:VARIABLE, credential:<provider slug>); anywhere else, a value
shaped like a known credential, or a header that carries one, is refused too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

REFERENCE = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|credential:[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?)$")
# Shapes of credentials people paste: OpenAI/Anthropic, Google, GitLab, GitHub, AWS, Slack, the portal's own keys.
SECRET_SHAPES = re.compile(
    r"\b(sk-[A-Za-z0-9_-]{16,}|sk-ant-[A-Za-z0-9_-]{16,}|AIza[0-9A-Za-z_-]{30,}|glpat-[0-9A-Za-z_-]{16,}|"
    r"gh[pousr]_[0-9A-Za-z]{30,}|AKIA[0-9A-Z]{16}|xox[abpr]-[0-9A-Za-z-]{10,}|gw[kp]_[0-9A-Za-z]{8}_[0-9A-Za-z_-]{16,})"
)
SECRET_HEADERS = re.compile(r"(authorization|api[-_]?key|token|secret|password|cookie)", re.IGNORECASE)
HINT = "write a reference instead: env:VARIABLE or credential:<provider slug>"


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    else:
        yield path, value


def secret_problems(kind: str, data: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    if kind == "Provider":
        api_key = data.get("api_key")
        if isinstance(api_key, str) and not REFERENCE.match(api_key):
            problems.append(("api_key", f"a secret written in clear is refused: {HINT}"))
        headers = (data.get("options") or {}).get("headers") if isinstance(data.get("options"), dict) else None
        for name, value in (headers or {}).items() if isinstance(headers, dict) else ():
            if SECRET_HEADERS.search(str(name)) and not (isinstance(value, str) and REFERENCE.match(value)):
                problems.append((f"options.headers.{name}", f"a credential header written in clear is refused: {HINT}"))
    for path, value in _walk(data, ""):
        if path == "api_key" or any(path == where for where, _ in problems):
            continue
        if isinstance(value, str) and SECRET_SHAPES.search(value):
            problems.append((path, f"this looks like a secret written in clear, which is refused: {HINT}"))
    return problems
