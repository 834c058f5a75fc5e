"""References between the documents of one tenant: every name a file uses must be defined by another file, since
the files are the whole tenant. Pure: (file, path, message) triples."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from apps.gitops.services.documents import (
    LIMITS,
    PROMPT,
    PROMPT_TESTS,
    PROMPT_VERSION,
    PROVIDER,
    ROUTE,
    SERVICE,
    TENANT,
    Document,
)

Problem = tuple[str, str, str]


def _duplicates(doc: Document, items_key: str, name_key: str) -> Iterator[Problem]:
    counts = Counter(item[name_key] for item in doc.data[items_key])
    for index, item in enumerate(doc.data[items_key]):
        if counts[item[name_key]] > 1:
            yield doc.path, f"{items_key}[{index}].{name_key}", f"duplicate {name_key} {item[name_key]!r}"


def _model_problems(providers: list[Document]) -> Iterator[Problem]:
    seen: dict[str, str] = {}
    for doc in providers:
        yield from _duplicates(doc, "models", "name")
        for index, model in enumerate(doc.data["models"]):
            other = seen.setdefault(model["name"], doc.path)
            if other != doc.path:
                yield doc.path, f"models[{index}].name", f"duplicate model {model['name']!r}: also in {other}"
        credential = doc.data["api_key"] or ""
        if credential.startswith("credential:") and credential.removeprefix("credential:") not in {
            p.key for p in providers
        }:
            yield doc.path, "api_key", f"no provider {credential.removeprefix('credential:')!r} in these files"


def _service_problems(doc: Document, routes: set[str], tenant: str, prompts: set[str]) -> Iterator[Problem]:
    data = doc.data
    for name in ("route", "semantic_cache_route"):
        if data[name] and data[name] not in routes:
            yield doc.path, name, f"no route {data[name]!r} in these files"
    yield from _duplicates(doc, "plans", "slug")
    if sum(plan["is_default"] for plan in data["plans"]) > 1:
        yield doc.path, "plans", "at most one plan is the default"
    for index, plan in enumerate(data["plans"]):
        for position, alias in enumerate(plan["allowed_models"]):
            if alias not in routes:
                yield doc.path, f"plans[{index}].allowed_models[{position}]", f"no route {alias!r} in these files"
        if plan["over_budget_route"] and plan["over_budget_route"] not in routes:
            route = plan["over_budget_route"]
            yield doc.path, f"plans[{index}].over_budget_route", f"no route {route!r} in these files"
    if tenant in data["shared_with"]:
        yield doc.path, "shared_with", "a service is always visible to its own tenant"
    if data["type"] == "prompt" and doc.key not in prompts:
        yield doc.path, "type", f"a prompt API needs prompts/{doc.key}/prompt.yaml"


def _prompt_problems(docs: list[Document], services: dict[str, Document]) -> Iterator[Problem]:
    versions: dict[str, set[int]] = {}
    for doc in docs:
        if doc.kind == PROMPT_VERSION:
            versions.setdefault(doc.data["service"], set()).add(doc.data["version"])
    for doc in docs:
        slug = doc.data["service"]
        service = services.get(slug)
        if service is None or service.data["type"] != "prompt":
            yield doc.path, "service", f"no prompt API {slug!r} in these files (services/{slug}.yaml, type prompt)"
            continue
        numbers = versions.get(slug, set())
        if doc.kind == PROMPT:
            if doc.data["live_version"] not in numbers:
                yield doc.path, "live_version", f"no version {doc.data['live_version']} of {slug} in these files"
            for index, entry in enumerate(doc.data["ab_split"]):
                if entry["version"] not in numbers:
                    yield doc.path, f"ab_split[{index}].version", f"no version {entry['version']} of {slug}"
        elif doc.kind == PROMPT_VERSION and doc.data["version"] > 1 and doc.data["version"] - 1 not in numbers:
            # Versions are numbered in order of creation: a gap could never be applied.
            yield doc.path, "version", f"versions of {slug} are numbered 1, 2, 3… without gaps"
        elif doc.kind == PROMPT_TESTS:
            yield from _duplicates(doc, "cases", "name")


def reference_errors(docs: list[Document]) -> list[Problem]:
    by_kind: dict[str, list[Document]] = {}
    for doc in docs:
        by_kind.setdefault(doc.kind, []).append(doc)
    tenant = by_kind[TENANT][0].key
    models = {m["name"] for doc in by_kind.get(PROVIDER, []) for m in doc.data["models"]}
    routes = {doc.key for doc in by_kind.get(ROUTE, [])}
    services = {doc.key: doc for doc in by_kind.get(SERVICE, [])}
    prompts = {doc.key for doc in by_kind.get(PROMPT, [])}
    problems = list(_model_problems(by_kind.get(PROVIDER, [])))
    for doc in by_kind.get(ROUTE, []):
        problems += list(_duplicates(doc, "deployments", "model"))
        for index, deployment in enumerate(doc.data["deployments"]):
            if deployment["model"] not in models:
                problems.append(
                    (doc.path, f"deployments[{index}].model", f"no model {deployment['model']!r} in these files")
                )
    for doc in by_kind.get(LIMITS, []):
        if doc.data["over_budget_route"] and doc.data["over_budget_route"] not in routes:
            route = doc.data["over_budget_route"]
            problems.append((doc.path, "over_budget_route", f"no route {route!r} in these files"))
    for doc in services.values():
        problems += list(_service_problems(doc, routes, tenant, prompts))
    prompt_docs = [d for kind in (PROMPT, PROMPT_VERSION, PROMPT_TESTS) for d in by_kind.get(kind, [])]
    problems += list(_prompt_problems(prompt_docs, services))
    return problems
