"""Each kind of bad input is refused with `file: path: problem`, by plan and by apply, and a refused apply leaves
the database exactly as it was (rows and audit trail counted before and after)."""

from __future__ import annotations

import shutil

import pytest

from apps.providers.models import Provider
from tests.gitops.helpers import counts, edit, gitops

pytestmark = pytest.mark.django_db

SERVICE, ROUTE = "services/rich-chat.yaml", "routes/cheap.yaml"


def _replace(relative, old, new):
    return lambda d: edit(d, relative, old, new)


def _write(relative, text):
    return lambda d: (d / relative).write_text(text)


def _move_version(d):
    (d / "prompts/rich-summary/v3.yaml").rename(d / "prompts/rich-summary/v5.yaml")
    edit(d, "prompts/rich-summary/v5.yaml", "version: 3", "version: 5")


def _move_model(d):
    local = (d / "providers/local.yaml").read_text()
    model = local[local.index("- name: llama3.1:8b") :]
    (d / "providers/local.yaml").write_text(local.replace(model, "").replace("models:\n", "models: []\n"))
    (d / "providers/echo.yaml").write_text((d / "providers/echo.yaml").read_text() + model)


FILE_PROBLEMS = {
    "malformed YAML": (_write(SERVICE, "slug: [rich-chat\n"), f"{SERVICE}: (document): not valid YAML: line 2"),
    "duplicate key": (
        _replace(ROUTE, "retries: 2", "retries: 2\nretries: 3"),
        f"{ROUTE}: (document): not valid YAML: line 8, column 1: duplicate key 'retries'",
    ),
    "unknown kind": (_replace("tenant.yaml", "kind: Tenant", "kind: Team"), "tenant.yaml: kind: unknown kind 'Team'"),
    "unknown apiVersion": (
        _replace(ROUTE, "gateway.portal/v1", "gateway.portal/v9"),
        f"{ROUTE}: apiVersion: unknown apiVersion 'gateway.portal/v9'",
    ),
    "schema": (_replace(ROUTE, "retries: 2", "retries: 9"), f"{ROUTE}: retries: 9 is greater than the maximum of 5"),
    "unknown field": (
        _replace(SERVICE, "team: ''", "teem: ''"),
        f"{SERVICE}: (document): Additional properties are not allowed ('teem' was unexpected)",
    ),
    "missing reference": (
        _replace(SERVICE, "route: team/smart", "route: nowhere"),
        f"{SERVICE}: route: no route 'nowhere'",
    ),
    "missing over-budget route": (
        _replace(SERVICE, "over_budget_route: cheap", "over_budget_route: gone"),
        f"{SERVICE}: plans[1].over_budget_route: no route 'gone' in these files",
    ),
    "missing model": (
        _replace(ROUTE, "model: llama3.1:8b", "model: gpt-9"),
        f"{ROUTE}: deployments[0].model: no model 'gpt-9' in these files",
    ),
    "duplicate plan slug": (
        _replace(SERVICE, "slug: pro", "slug: free"),
        f"{SERVICE}: plans[1].slug: duplicate slug 'free'",
    ),
    "duplicate model across providers": (
        _replace("providers/local.yaml", "- name: llama3.1:8b", "- name: echo-fast"),
        "providers/local.yaml: models[0].name: duplicate model 'echo-fast': also in providers/echo.yaml",
    ),
    "secret in clear": (
        _replace("providers/echo.yaml", "api_key: null", "api_key: hunter2-not-a-reference"),
        "providers/echo.yaml: api_key: a secret written in clear is refused",
    ),
    "credential header in clear": (
        _replace("providers/local.yaml", "X-Team: ml", "Authorization: Bearer abc123"),
        "providers/local.yaml: options.headers.Authorization: a credential header written in clear is refused",
    ),
    "key pasted anywhere": (
        _replace(SERVICE, "team: ''", "team: sk-proj-abcdefghijklmnopqrstuvwx"),
        f"{SERVICE}: team: this looks like a secret written in clear",
    ),
    "file in the wrong place": (
        _replace(SERVICE, "slug: rich-chat", "slug: rich-talk"),
        f"{SERVICE}: (document): a Service 'rich-talk' belongs in services/rich-talk.yaml",
    ),
    "version gap": (_move_version, "prompts/rich-summary/v5.yaml: version: versions of rich-summary are numbered"),
    "missing tenant": (lambda d: (d / "tenant.yaml").unlink(), "tenant.yaml: (document): missing"),
}


@pytest.fixture
def exported(rich_tenant, tmp_path):
    assert gitops("export", str(tmp_path), "--tenant", "rich")[0] == 0
    return tmp_path


@pytest.mark.parametrize("problem", FILE_PROBLEMS)
def test_bad_files_are_refused_naming_file_and_path_and_nothing_changes(exported, problem):
    spoil, expected = FILE_PROBLEMS[problem]
    spoil(exported)
    before = counts()

    code, out, err = gitops("plan", str(exported))
    assert (code, out) == (1, "")
    assert expected in err

    code, _, err = gitops("apply", str(exported))
    assert code == 1
    assert expected in err
    assert counts() == before


APPLY_PROBLEMS = {
    "unknown tenant to share with": (
        _replace(SERVICE, "- rich-partner", "- nobody"),
        f"{SERVICE}: shared_with: no tenant nobody in this portal",
    ),
    "credential variable unset": (
        _replace("providers/echo.yaml", "api_key: null", "api_key: env:GITOPS_TEST_UNSET_VARIABLE"),
        "providers/echo.yaml: api_key: the environment variable GITOPS_TEST_UNSET_VARIABLE is not set",
    ),
    "impossible lifecycle": (
        _replace(SERVICE, "lifecycle: deprecated", "lifecycle: draft"),
        f"{SERVICE}: lifecycle: a deprecated service cannot become draft",
    ),
    "model moved to another provider": (
        _move_model,
        "providers/echo.yaml: models[1].name: the model belongs to provider local: a model's provider cannot change",
    ),
    "a service's own rule": (
        _replace(SERVICE, "output_mode: text", "output_mode: json"),
        f"{SERVICE}: output_schema: JSON output needs an output schema",
    ),
}


@pytest.mark.parametrize("problem", APPLY_PROBLEMS)
def test_a_refusal_late_in_apply_rolls_back_everything_before_it(exported, problem):
    # A new provider comes first in the plan: it must not survive the refusal that follows.
    shutil.copy(exported / "providers/echo.yaml", exported / "providers/extra.yaml")
    edit(exported, "providers/extra.yaml", "slug: echo", "slug: extra")
    edit(exported, "providers/extra.yaml", "- name: echo-fast", "- name: extra-model")
    spoil, expected = APPLY_PROBLEMS[problem]
    spoil(exported)
    before = counts()

    code, _, err = gitops("apply", str(exported))

    assert code == 1
    assert expected in err
    assert "Nothing was applied." in err
    assert counts() == before
    assert not Provider.objects.filter(slug="extra").exists()
