"""The prompts API: reads for members, versions for developers, publish/rollback/A-B for owners and admins."""

from __future__ import annotations

import tracemalloc

import pytest

from apps.catalog.models import Service
from apps.prompts.models import PromptVersion
from apps.prompts.services import prompt_version_create, prompt_version_publish
from apps.tenants.models import ROLE_RANK, Role
from tests.helpers import API, assert_field_error
from tests.prompts.inputs import SCHEMA, VERSION_1, version_input

pytestmark = pytest.mark.django_db

A = f"{API}/tenants/acme"
PROMPT = f"{A}/services/summarize/prompt"


@pytest.fixture
def v2_live(template, members):
    """Version 2 (a shorter prompt) published: version 1 can be rolled back to."""
    prompt_version_create(template=template, author=None, **version_input(user_template="Short: {{ text }}"))
    return prompt_version_publish(template=template, version_number=2, actor_membership=None)


def new_service_body(**overrides) -> dict:
    return {"slug": "translate", "name": "Translate", "route": "smart", **VERSION_1, **overrides}


# (id, method, path, body, minimum role); each succeeds for that role and up and is a 403 below it.
WRITES = [
    ("version-create", "post", f"{PROMPT}/versions/", version_input(change_note="api"), Role.DEVELOPER),
    ("version-publish", "post", f"{PROMPT}/versions/1/publish/", None, Role.ADMIN),
    ("rollback", "post", f"{PROMPT}/rollback/", {"version": 1}, Role.ADMIN),
    ("ab", "put", f"{PROMPT}/ab/", {"split": [{"version": 1, "weight": 1}, {"version": 2, "weight": 1}]}, Role.ADMIN),
    ("prompt-service-create", "post", f"{A}/prompt-services/", new_service_body(), Role.ADMIN),
]


@pytest.mark.parametrize("role", Role.values)
@pytest.mark.parametrize(("method", "path", "body", "minimum"), [pytest.param(*row[1:], id=row[0]) for row in WRITES])
def test_role_matrix_of_writes(v2_live, members, api_client_for, role, method, path, body, minimum):
    versions_before = PromptVersion.objects.count()
    response = getattr(api_client_for(members[role].user), method)(path, body, format="json")
    if ROLE_RANK[Role(role)] >= ROLE_RANK[Role(minimum)]:
        assert response.status_code in (200, 201), response.content
    else:
        assert response.status_code == 403, response.content
        assert response.json()["message"]
        assert PromptVersion.objects.count() == versions_before


@pytest.mark.parametrize(
    "path", [f"{PROMPT}/", f"{PROMPT}/versions/", f"{PROMPT}/versions/1/", f"{PROMPT}/diff/?a=1&b=2"]
)
def test_viewers_read_everything(v2_live, members, api_client_for, path):
    assert api_client_for(members[Role.VIEWER].user).get(path).status_code == 200


def test_the_prompt_shows_its_live_version_and_split(v2_live, owner, api_client_for):
    body = api_client_for(owner).get(f"{PROMPT}/").json()
    assert {k: body[k] for k in ("service", "live_version", "ab_split", "sticky_by")} == {
        "service": "summarize",
        "live_version": 2,
        "ab_split": [],
        "sticky_by": "app",
    }


def test_versions_are_listed_newest_first_and_retrieved_by_number(v2_live, owner, api_client_for):
    client = api_client_for(owner)
    listed = client.get(f"{PROMPT}/versions/").json()["results"]
    assert [(v["number"], v["is_live"]) for v in listed] == [(2, True), (1, False)]
    one = client.get(f"{PROMPT}/versions/1/").json()
    assert (one["user_template"], one["examples"], one["variables_schema"]) == (
        VERSION_1["user_template"],
        VERSION_1["examples"],
        SCHEMA,
    )


def test_publish_ab_diff_and_rollback_through_the_api(template, members, api_client_for):
    developer, admin = api_client_for(members[Role.DEVELOPER].user), api_client_for(members[Role.ADMIN].user)
    created = developer.post(f"{PROMPT}/versions/", version_input(user_template="Short: {{ text }}"), format="json")
    assert (created.status_code, created.json()["number"], created.json()["is_live"]) == (201, 2, False)
    assert created.json()["author"] == "developer-user"

    diff = developer.get(f"{PROMPT}/diff/?a=1&b=2").json()
    assert (diff["a"], diff["b"], diff["system_template"]) == (1, 2, "")
    assert "+Short: {{ text }}" in diff["user_template"].splitlines()

    split = [{"version": 1, "weight": 80}, {"version": 2, "weight": 20}]
    ab = admin.put(f"{PROMPT}/ab/", {"split": split, "sticky_by": "conversation"}, format="json").json()
    assert (ab["live_version"], ab["ab_split"], ab["sticky_by"]) == (1, split, "conversation")

    published = admin.post(f"{PROMPT}/versions/2/publish/").json()
    assert (published["live_version"], published["ab_split"]) == (2, [])

    rolled_back = admin.post(f"{PROMPT}/rollback/", {"version": 1}, format="json").json()
    assert rolled_back["live_version"] == 1
    assert admin.get(f"{PROMPT}/").json()["live_version"] == 1


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        pytest.param("post", "versions/", version_input(user_template="{{ text "), "user_template", id="syntax"),
        pytest.param("post", "versions/", version_input(user_template="{{ tone }}"), "user_template", id="undeclared"),
        pytest.param("post", "versions/", version_input(user_template="{{ x|nope }}"), "user_template", id="filter"),
        pytest.param("post", "versions/", version_input(variables_schema={"type": 5}), "variables_schema", id="schema"),
        pytest.param("post", "versions/", version_input(parameters={"top_k": 5}), "parameters", id="parameter"),
        pytest.param("post", "versions/", version_input(examples=[{"user": "x"}]), "examples", id="example"),
        pytest.param("put", "ab/", {"split": [{"version": 1, "weight": 1}]}, "split", id="split-of-one"),
        pytest.param("put", "ab/", {"split": [{"version": 1, "weight": "x"}]}, "split", id="split-not-integer"),
        pytest.param("put", "ab/", {"split": [], "sticky_by": "ip"}, "sticky_by", id="sticky-by"),
        pytest.param("post", "rollback/", {"version": 2}, "version", id="rollback-to-live"),
        pytest.param("post", "rollback/", {}, "version", id="rollback-without-version"),
        pytest.param("get", "diff/?a=1", None, "b", id="diff-without-b"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(v2_live, owner, api_client_for, method, path, body, field):
    versions_before = PromptVersion.objects.count()
    response = getattr(api_client_for(owner), method)(f"{PROMPT}/{path}", body, format="json")
    assert_field_error(response, field)
    assert PromptVersion.objects.count() == versions_before


@pytest.mark.parametrize(
    "path",
    [
        f"{A}/services/nope/prompt/",
        f"{A}/services/nope/prompt/versions/",
        f"{PROMPT}/versions/9/",
        f"{PROMPT}/versions/x/",
        f"{PROMPT}/versions/%C2%B2/",
        f"{PROMPT}/diff/?a=1&b=9",
    ],
)
def test_unknown_prompts_and_versions_are_404(template, owner, api_client_for, path):
    response = api_client_for(owner).get(path)
    assert (response.status_code, response.json()) == (404, {"message": "Not found."})


def test_a_prompt_service_is_created_in_one_call(tenant, members, route, api_client_for):
    body = new_service_body(tags=["nlp"], output_mode="json", output_schema={"type": "object"})
    response = api_client_for(members[Role.ADMIN].user).post(f"{A}/prompt-services/", body, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert {k: created[k] for k in ("slug", "route", "lifecycle", "input_schema", "output_mode", "live_version")} == {
        "slug": "translate",
        "route": "smart",
        "lifecycle": "draft",
        "input_schema": SCHEMA,
        "output_mode": "json",
        "live_version": 1,
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"route": "globex-smart"}, "route", id="another-tenants-route"),
        pytest.param({"route": "nope"}, "route", id="unknown-route"),
        pytest.param({"user_template": "{% for %}"}, "user_template", id="syntax-error"),
        pytest.param({"user_template": "{{ secret }}"}, "user_template", id="undeclared-variable"),
        pytest.param({"variables_schema": {"type": "object", "required": 1}}, "variables_schema", id="bad-schema"),
        pytest.param({"parameters": {"temperature": -1}}, "parameters", id="bad-parameter"),
        pytest.param({"output_mode": "json"}, "output_schema", id="json-without-schema"),
        pytest.param({"slug": "Not A Slug"}, "slug", id="bad-slug"),
    ],
)
def test_a_bad_prompt_service_is_refused_and_nothing_is_saved(
    tenant, members, route, other_route, api_client_for, overrides, field
):
    response = api_client_for(members[Role.OWNER].user).post(
        f"{A}/prompt-services/", new_service_body(**overrides), format="json"
    )
    assert_field_error(response, field)
    assert not Service.objects.exists()
    assert not PromptVersion.objects.exists()


def test_a_developer_saves_a_template_that_would_take_a_gigabyte_to_evaluate_without_evaluating_it(
    template, members, api_client_for
):
    """Saving checks the template (syntax, variables) by reading it: constant folding would build the 1 GB string."""
    body = version_input(user_template="{{ '%1000000000d' % 1 }}{{ 'a'|center(1000000000) }} {{ text }}")
    client = api_client_for(members[Role.DEVELOPER].user)
    tracemalloc.start()
    try:
        response = client.post(f"{PROMPT}/versions/", body, format="json")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert response.status_code == 201, response.content
    assert peak < 32 * 2**20
    assert response.json()["user_template"] == body["user_template"]
