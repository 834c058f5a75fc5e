"""The prompt workbench's role matrix: every member reads a prompt, developers and up edit and preview, owners and
admins publish, split and roll back; viewers get the 403 page naming the role; another tenant gets 404; anonymous
people go to the log-in page. Each write that is refused leaves the prompt as it was."""

from __future__ import annotations

import pytest

from apps.core.models import AuditEvent
from apps.prompts.models import PromptTemplate
from apps.prompts.services import prompt_version_create
from apps.tenants.models import Role
from tests.prompts.inputs import version_input

pytestmark = pytest.mark.django_db

READER, EDITOR, PUBLISHER = Role.VIEWER, Role.DEVELOPER, Role.ADMIN
EDIT_FIELDS = {
    "system_template": "You summarize text.",
    "user_template": "Summarize: {{ text }}",
    "variables_schema": '{"type": "object", "properties": {"text": {"type": "string"}}}',
    "examples": "[]",
    "parameters": "{}",
    "sample_variables": '{"text": "hello"}',
}
# (method, path, data, minimum role)
PAGES = [
    pytest.param("get", "/prompts/summarize/", None, READER, id="prompt-page"),
    pytest.param("get", "/prompts/summarize/diff/?a=1&b=2", None, READER, id="diff"),
    pytest.param("get", "/prompts/summarize/edit/", None, EDITOR, id="editor"),
    pytest.param("post", "/prompts/summarize/check/", EDIT_FIELDS, EDITOR, id="check"),
    pytest.param("post", "/prompts/summarize/preview/", EDIT_FIELDS, EDITOR, id="preview"),
    pytest.param("post", "/prompts/summarize/edit/", EDIT_FIELDS, EDITOR, id="save-draft"),
    pytest.param("post", "/prompts/summarize/versions/2/publish/", {}, PUBLISHER, id="publish"),
    pytest.param(
        "post", "/prompts/summarize/ab/", {"weight_1": 1, "weight_2": 1, "sticky_by": "app"}, PUBLISHER, id="ab"
    ),
]
ROLE_NEEDED = {EDITOR: "developer role", PUBLISHER: "admin role"}


@pytest.fixture
def two_versions(template):
    prompt_version_create(template=template, author=None, **version_input(user_template="Briefly: {{ text }}"))
    return template


def _call(client, method, path, data):
    return client.get(path) if method == "get" else client.post(path, data)


@pytest.mark.parametrize("role", Role.values)
@pytest.mark.parametrize(("method", "path", "data", "minimum"), PAGES)
def test_each_role_gets_what_its_role_allows(two_versions, members, client_for, role, method, path, data, minimum):
    membership = members[role]
    before = (PromptTemplate.objects.get().live_version.number, two_versions.versions.count())
    response = _call(client_for(membership.user), method, path, data)
    if membership.has_role(minimum):
        assert response.status_code in (200, 302)
    else:
        assert response.status_code == 403
        assert f"This page needs the {ROLE_NEEDED[minimum]}" in response.content.decode()
        assert (PromptTemplate.objects.get().live_version.number, two_versions.versions.count()) == before


@pytest.mark.parametrize(("method", "path", "data", "minimum"), PAGES)
def test_another_tenant_gets_404_and_changes_nothing(two_versions, mallory, client_for, method, path, data, minimum):
    audited = AuditEvent.objects.count()
    response = _call(client_for(mallory), method, path, data)
    assert response.status_code == 404
    assert "summarize" not in response.content.decode().lower()
    assert two_versions.versions.count() == 2
    assert AuditEvent.objects.count() == audited


@pytest.mark.parametrize(
    ("method", "path", "data", "minimum"), [*PAGES, pytest.param("get", "/prompts/", None, READER)]
)
def test_anonymous_people_are_sent_to_log_in(two_versions, client, method, path, data, minimum):
    response = _call(client, method, path, data)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_list_shows_only_the_tenants_prompts(two_versions, mallory, members, client_for):
    assert "Summarize" not in client_for(mallory).get("/prompts/").content.decode()
    page = client_for(members[Role.VIEWER].user).get("/prompts/").content.decode()
    assert 'href="/prompts/summarize/"' in page
    assert "v1" in page


def test_a_viewer_sees_no_edit_or_publish_button(two_versions, members, client_for):
    page = client_for(members[Role.VIEWER].user).get("/prompts/summarize/").content.decode()
    assert "Edit prompt" not in page
    assert "/publish/" not in page
    assert "Save split" not in page


def test_a_developer_may_edit_but_not_publish(two_versions, members, client_for):
    page = client_for(members[Role.DEVELOPER].user).get("/prompts/summarize/").content.decode()
    assert "Edit prompt" in page
    assert "/publish/" not in page
    assert "Save split" not in page


def test_an_admin_sees_publish_split_and_rollback(two_versions, members, client_for):
    client = client_for(members[Role.ADMIN].user)
    page = client.get("/prompts/summarize/").content.decode()
    assert 'action="/prompts/summarize/versions/2/publish/"' in page
    assert "hx-confirm=" in page
    assert "Save split" in page
    client.post("/prompts/summarize/versions/2/publish/")
    page = client.get("/prompts/summarize/").content.decode()
    assert "Roll back to v1" in page


def test_the_prompt_page_is_linked_from_its_service_page(template, members, client_for):
    page = client_for(members[Role.ADMIN].user).get("/catalog/summarize/manage/").content.decode()
    assert '<a href="/prompts/summarize/">Its prompt →</a>' in page
