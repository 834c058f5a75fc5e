"""The documents of the definitions format, one per object, in their canonical shape.

Both sides of a plan go through the same builders: the export builds each document from the database, loading
builds it from a file (after the schema check), so "no change" is plain equality and a change is a text diff.
The field order written here is the documented order of each kind (docs: `GET /api/v1/gitops/schema`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from apps.gitops.services.yamltext import sorted_tree

API_VERSION = "gateway.portal/v1"

TENANT, PROVIDER, ROUTE, LIMITS, SERVICE, PROMPT, PROMPT_VERSION, PROMPT_TESTS = (
    "Tenant",
    "Provider",
    "Route",
    "Limits",
    "Service",
    "Prompt",
    "PromptVersion",
    "PromptTests",
)
# Creation order (the tenant's limits after the routes they name, a prompt's versions before the prompt that makes
# one live); deletion runs it backwards.
KINDS = (TENANT, PROVIDER, ROUTE, LIMITS, SERVICE, PROMPT_VERSION, PROMPT, PROMPT_TESTS)
# The tenant's own limit set (limits of its apps and keys go with the apps and keys, which are not definitions).
TENANT_SCOPE = "tenant"

PRICE_STEP = Decimal("0.000001")
BUDGET_STEP = Decimal("0.01")


@dataclass(frozen=True)
class Document:
    """One object of a tenant: its kind, its key (unique within the kind), the file it lives in and its fields."""

    kind: str
    key: str
    path: str
    data: dict[str, Any]


def _file_name(name: str) -> str:
    # Route aliases may hold "/" and ":" (llama3.1:8b); percent-encoding keeps one flat, portable file name.
    return quote(name, safe="@._-")


def path_for(kind: str, key: str) -> str:
    if kind == TENANT:
        return "tenant.yaml"
    if kind == LIMITS:
        return "limits.yaml"
    if kind == PROVIDER:
        return f"providers/{key}.yaml"
    if kind == ROUTE:
        return f"routes/{_file_name(key)}.yaml"
    if kind == SERVICE:
        return f"services/{key}.yaml"
    service, _, number = key.partition("/v")
    if kind == PROMPT_VERSION:
        return f"prompts/{service}/v{number}.yaml"
    return f"prompts/{key}/{'prompt' if kind == PROMPT else 'tests'}.yaml"


def key_of(kind: str, data: Mapping[str, Any]) -> str:
    if kind == LIMITS:
        return TENANT_SCOPE
    if kind == ROUTE:
        return str(data["alias"])
    if kind in (PROMPT, PROMPT_TESTS):
        return str(data["service"])
    if kind == PROMPT_VERSION:
        return f"{data['service']}/v{data['version']}"
    return str(data["slug"])


def _head(kind: str) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": kind}


def _decimal(value: Any, step: Decimal) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(step)


def _float(value: Any) -> float:
    return float(value)


def tenant_doc(v: Mapping[str, Any]) -> dict[str, Any]:
    settings = v.get("settings") or {}
    return {
        **_head(TENANT),
        "slug": v["slug"],
        "name": v["name"],
        "settings": {
            "require_internal_subscriptions": bool(settings.get("require_internal_subscriptions", False)),
            "limits_fail_open": bool(settings.get("limits_fail_open", True)),
        },
    }


LIMIT_FIELDS = ("requests_per_minute", "tokens_per_minute", "requests_per_day", "requests_per_month")


def limits_doc(v: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **_head(LIMITS),
        **{name: v.get(name) for name in LIMIT_FIELDS},
        "budget_per_day": _decimal(v.get("budget_per_day"), BUDGET_STEP),
        "budget_per_month": _decimal(v.get("budget_per_month"), BUDGET_STEP),
        "budget_currency": v.get("budget_currency", "USD"),
        "budget_alert_percent": v.get("budget_alert_percent"),
        "over_budget_route": v.get("over_budget_route"),
    }


def _model_item(v: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": v["name"],
        "upstream_id": v.get("upstream_id") or v["name"],
        "modalities": sorted(v.get("modalities") or ["text"]),
        "context_window": v.get("context_window"),
        "input_price_per_mtok": _decimal(v.get("input_price_per_mtok", 0), PRICE_STEP),
        "output_price_per_mtok": _decimal(v.get("output_price_per_mtok", 0), PRICE_STEP),
        # Absent (files written before cached prices existed) or null: cached tokens cost the input price.
        "cached_input_price_per_mtok": _decimal(v.get("cached_input_price_per_mtok"), PRICE_STEP),
    }


def provider_doc(v: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **_head(PROVIDER),
        "slug": v["slug"],
        "name": v["name"],
        "type": v["type"],
        "base_url": v.get("base_url") or "",
        "api_key": v.get("api_key"),
        "enabled": bool(v.get("enabled", True)),
        "options": sorted_tree(dict(v.get("options") or {})),
        "models": sorted((_model_item(m) for m in v.get("models") or []), key=lambda m: m["name"]),
    }


def _deployment_item(v: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "model": v["model"],
        "weight": int(v.get("weight", 1)),
        "priority": int(v.get("priority", 0)),
        "timeout_seconds": _float(v.get("timeout_seconds", 60.0)),
        "enabled": bool(v.get("enabled", True)),
    }


def route_doc(v: Mapping[str, Any]) -> dict[str, Any]:
    deployments = [_deployment_item(d) for d in v.get("deployments") or []]
    return {
        **_head(ROUTE),
        "alias": v["alias"],
        "description": v.get("description") or "",
        "enabled": bool(v.get("enabled", True)),
        "deadline_seconds": _float(v.get("deadline_seconds", 120.0)),
        "retries": int(v.get("retries", 1)),
        "cache_ttl_seconds": v.get("cache_ttl_seconds"),
        "strategy": v.get("strategy") or "priority",  # files written before strategies existed
        "deployments": sorted(deployments, key=lambda d: (d["priority"], d["model"])),
    }


def _plan_item(v: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "slug": v["slug"],
        "name": v["name"],
        "description": v.get("description") or "",
        "is_default": bool(v.get("is_default", False)),
        "position": int(v.get("position", 0)),
        **{name: v.get(name) for name in LIMIT_FIELDS},
        "daily_budget": _decimal(v.get("daily_budget"), BUDGET_STEP),
        "monthly_budget": _decimal(v.get("monthly_budget"), BUDGET_STEP),
        "budget_currency": v.get("budget_currency", "USD"),
        "budget_alert_percent": v.get("budget_alert_percent"),
        "allowed_models": list(v.get("allowed_models") or []),
        "over_budget_route": v.get("over_budget_route") or "",
    }


def service_doc(v: Mapping[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        **_head(SERVICE),
        "slug": v["slug"],
        "name": v["name"],
        "type": v["type"],
        "route": v["route"],
        "summary": v.get("summary") or "",
        "description": v.get("description") or "",
        "team": v.get("team") or "",
        "tags": sorted({str(tag).strip().lower() for tag in v.get("tags") or []}),
        "visibility": v.get("visibility", "private"),
        "shared_with": sorted(v.get("shared_with") or []),
        "lifecycle": v.get("lifecycle", "draft"),
        "sunset_on": v.get("sunset_on"),
        "approval_mode": v.get("approval_mode", "manual"),
    }
    # A prompt API's input is its live version's variables schema: written there, not twice.
    if v["type"] != "prompt":
        doc["input_schema"] = sorted_tree(dict(v.get("input_schema") or {}))
    doc |= {
        "output_mode": v.get("output_mode", "text"),
        "output_schema": sorted_tree(dict(v.get("output_schema") or {})),
        "expected_tokens_per_call": int(v.get("expected_tokens_per_call", 1000)),
        "capture_bodies_days": int(v.get("capture_bodies_days", 0)),
        "cache_ttl_seconds": v.get("cache_ttl_seconds"),
        "semantic_cache": bool(v.get("semantic_cache", False)),
        "semantic_cache_route": v.get("semantic_cache_route") or "",
        "semantic_cache_threshold": float(v.get("semantic_cache_threshold", 0.95)),
        "plans": sorted((_plan_item(p) for p in v.get("plans") or []), key=lambda p: (p["position"], p["slug"])),
    }
    return doc


def prompt_doc(v: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **_head(PROMPT),
        "service": v["service"],
        "live_version": int(v["live_version"]),
        "sticky_by": v.get("sticky_by", "app"),
        "ab_split": [{"version": int(e["version"]), "weight": int(e["weight"])} for e in v.get("ab_split") or []],
    }


def prompt_version_doc(v: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **_head(PROMPT_VERSION),
        "service": v["service"],
        "version": int(v["version"]),
        "change_note": v.get("change_note") or "",
        "system_template": v.get("system_template") or "",
        "user_template": v["user_template"],
        "examples": [{"user": e["user"], "assistant": e["assistant"]} for e in v.get("examples") or []],
        "parameters": sorted_tree(dict(v.get("parameters") or {})),
        "variables_schema": sorted_tree(dict(v["variables_schema"])),
    }


def prompt_tests_doc(v: Mapping[str, Any]) -> dict[str, Any]:
    cases = [
        {
            "name": c["name"],
            "variables": sorted_tree(dict(c.get("variables") or {})),
            "checks": sorted_tree(list(c.get("checks") or [])),
        }
        for c in v.get("cases") or []
    ]
    return {**_head(PROMPT_TESTS), "service": v["service"], "cases": sorted(cases, key=lambda c: c["name"])}


BUILDERS = {
    TENANT: tenant_doc,
    PROVIDER: provider_doc,
    ROUTE: route_doc,
    LIMITS: limits_doc,
    SERVICE: service_doc,
    PROMPT: prompt_doc,
    PROMPT_VERSION: prompt_version_doc,
    PROMPT_TESTS: prompt_tests_doc,
}


def document(kind: str, values: Mapping[str, Any]) -> Document:
    data = BUILDERS[kind](values)
    key = key_of(kind, data)
    return Document(kind=kind, key=key, path=path_for(kind, key), data=data)
