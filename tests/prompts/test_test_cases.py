"""Test cases of a prompt and their runs through the API: who may do what, and bad checks refused naming the check
and its field, with nothing saved."""

from __future__ import annotations

import pytest

from apps.core.models import AuditEvent
from apps.prompts.models import PromptTestCase, PromptTestRun
from apps.prompts.services import prompt_test_case_create
from apps.tenants.models import ROLE_RANK, Role
from tests.helpers import API, assert_field_error

pytestmark = pytest.mark.django_db

A = f"{API}/tenants/acme"
PROMPT = f"{A}/services/summarize/prompt"
CASES = f"{PROMPT}/test-cases/"
RUNS = f"{PROMPT}/versions/1/test-runs/"

GOOD_CHECKS = [
    {"type": "contains", "value": "cat", "ignore_case": True},
    {"type": "not_contains", "value": "As an AI"},
    {"type": "regex", "pattern": r"^\w+"},
    {"type": "json_schema", "schema": {"type": "object", "required": ["summary"]}},
    {"type": "json_path", "path": "$.summary.words", "equals": 2},
    {"type": "max_tokens", "max": 50},
]


@pytest.fixture
def case(template):
    return prompt_test_case_create(
        template=template,
        actor_membership=None,
        name="short text",
        variables={"text": "the cat sat on the mat", "words": 2},
        checks=[{"type": "contains", "value": "cat"}],
    )


def case_body(**overrides) -> dict:
    return {"name": "long text", "variables": {"text": "a long text", "words": 5}, "checks": GOOD_CHECKS, **overrides}


# (id, method, path, body, expected success status)
WRITES = [
    ("case-create", "post", CASES, case_body(), 201),
    ("case-update", "patch", f"{CASES}{{case}}/", {"checks": [{"type": "max_tokens", "max": 9}]}, 200),
    ("case-delete", "delete", f"{CASES}{{case}}/", None, 204),
    ("run-start", "post", RUNS, None, 202),
]


@pytest.mark.parametrize("role", Role.values)
@pytest.mark.parametrize(("method", "path", "body", "success"), [pytest.param(*row[1:], id=row[0]) for row in WRITES])
def test_developers_and_up_write_cases_and_start_runs_viewers_get_403(
    case, members, api_client_for, role, method, path, body, success
):
    before = (PromptTestCase.objects.count(), PromptTestRun.objects.count(), AuditEvent.objects.count())
    client = api_client_for(members[role].user)
    response = getattr(client, method)(path.format(case=case.pk), body, format="json")
    if ROLE_RANK[Role(role)] >= ROLE_RANK[Role.DEVELOPER]:
        assert response.status_code == success, response.content
        assert AuditEvent.objects.count() == before[2] + 1
    else:
        assert response.status_code == 403, response.content
        assert "developer" in response.json()["message"]
        after = (PromptTestCase.objects.count(), PromptTestRun.objects.count(), AuditEvent.objects.count())
        assert after == before


@pytest.mark.parametrize("path", [CASES, f"{CASES}{{case}}/", RUNS])
def test_every_member_reads_cases_and_runs(case, members, api_client_for, path):
    for role in Role.values:
        response = api_client_for(members[role].user).get(path.format(case=case.pk))
        assert response.status_code == 200, (role, response.content)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", CASES, None),
        ("post", CASES, case_body()),
        ("get", f"{CASES}{{case}}/", None),
        ("patch", f"{CASES}{{case}}/", {"name": "x"}),
        ("delete", f"{CASES}{{case}}/", None),
        ("get", RUNS, None),
        ("post", RUNS, None),
    ],
)
def test_another_tenant_gets_404_and_anonymous_callers_401(
    case, mallory, api_client, api_client_for, method, path, body
):
    path = path.format(case=case.pk)
    before = (PromptTestCase.objects.count(), PromptTestRun.objects.count())
    foreign = getattr(api_client_for(mallory), method)(path, body, format="json")
    assert (foreign.status_code, foreign.json()) == (404, {"message": "Not found."})
    anonymous = getattr(api_client, method)(path, body, format="json")
    assert anonymous.status_code in (401, 403)
    assert (PromptTestCase.objects.count(), PromptTestRun.objects.count()) == before


def test_a_case_is_created_listed_updated_and_deleted(template, members, api_client_for):
    client = api_client_for(members[Role.DEVELOPER].user)
    created = client.post(CASES, case_body(), format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["name"], body["variables"], body["checks"]) == (
        "long text",
        {"text": "a long text", "words": 5},
        GOOD_CHECKS,
    )
    assert [c["name"] for c in client.get(CASES).json()["results"]] == ["long text"]
    updated = client.patch(f"{CASES}{body['id']}/", {"name": "longer text"}, format="json").json()
    assert (updated["name"], updated["checks"]) == ("longer text", GOOD_CHECKS)
    event = AuditEvent.objects.get(action="prompt_test_case.update")
    assert event.changes == {"name": ["long text", "longer text"]}
    assert client.delete(f"{CASES}{body['id']}/").status_code == 204
    assert not PromptTestCase.objects.exists()


def bad_check(check: dict) -> dict:
    return case_body(checks=[{"type": "contains", "value": "ok"}, check])


@pytest.mark.parametrize(
    ("body", "words"),
    [
        pytest.param(
            bad_check({"type": "sounds_like", "value": "x"}), ["Check 2", "type", "sounds_like"], id="unknown"
        ),
        pytest.param(bad_check({"type": "regex", "pattern": "(unclosed"}), ["Check 2", "pattern"], id="bad-regex"),
        pytest.param(
            bad_check({"type": "json_path", "path": "$.a[", "equals": 1}), ["Check 2", "path", "JSON path"], id="path"
        ),
        pytest.param(
            bad_check({"type": "json_schema", "schema": {"type": "strang"}}), ["Check 2", "schema"], id="bad-schema"
        ),
        pytest.param(bad_check({"type": "json_schema"}), ["Check 2", "schema", "no output schema"], id="no-schema"),
        pytest.param(bad_check({"type": "max_tokens", "max": 0}), ["Check 2", "max", "at least 1"], id="n-zero"),
        pytest.param(bad_check({"type": "max_tokens", "max": True}), ["Check 2", "max"], id="n-bool"),
        pytest.param(bad_check({"type": "contains"}), ["Check 2", "value", "required"], id="missing-field"),
        pytest.param(bad_check({"type": "contains", "value": "x", "colour": 1}), ["Check 2", "colour"], id="extra"),
        pytest.param(bad_check({"type": "contains", "value": ""}), ["Check 2", "value"], id="empty-value"),
        pytest.param(bad_check({"type": "contains", "value": "x", "ignore_case": "y"}), ["ignore_case"], id="flag"),
        pytest.param(case_body(checks=["contains"]), ["Check 1", "type"], id="not-an-object"),
        pytest.param(case_body(checks={"type": "contains"}), ["list"], id="not-a-list"),
    ],
)
def test_a_bad_check_is_a_400_naming_the_check_and_its_field(template, owner, api_client_for, body, words):
    response = api_client_for(owner).post(CASES, body, format="json")
    answer = assert_field_error(response, "checks")
    for word in words:
        assert word in answer["message"], answer["message"]
    assert not PromptTestCase.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        pytest.param(case_body(variables=["text"]), "variables", 400, id="variables-not-an-object"),
        pytest.param(case_body(name="  "), "name", 400, id="blank-name"),
        pytest.param(case_body(name="short text"), "name", 409, id="duplicate-name"),
        pytest.param({"variables": {}, "checks": []}, "name", 400, id="no-name"),
    ],
)
def test_bad_case_fields_are_refused_naming_the_field(case, owner, api_client_for, body, field, status):
    response = api_client_for(owner).post(CASES, body, format="json")
    assert_field_error(response, field, statuses=(status,))
    assert PromptTestCase.objects.count() == 1


def test_a_check_against_the_services_output_schema_needs_one_and_is_accepted_with_it(template, owner, api_client_for):
    service = template.service
    service.output_mode, service.output_schema = "json", {"type": "object", "required": ["summary"]}
    service.save()
    response = api_client_for(owner).post(CASES, case_body(checks=[{"type": "json_schema"}]), format="json")
    assert response.status_code == 201, response.content


def test_a_run_needs_cases_and_an_existing_version(template, owner, api_client_for):
    client = api_client_for(owner)
    assert_field_error(client.post(RUNS), "version")
    assert client.post(f"{PROMPT}/versions/9/test-runs/").status_code == 404
    assert client.post(f"{PROMPT}/versions/x/test-runs/").status_code == 404
    assert not PromptTestRun.objects.exists()
