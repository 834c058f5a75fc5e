"""Creating prompt APIs and versions: what is saved, and bad input refused with nothing half-saved."""

from __future__ import annotations

import pytest

from apps.catalog.models import Service, Tag
from apps.core.errors import ApplicationError, ConflictError, NotPermitted
from apps.core.models import AuditEvent, ConfigVersion
from apps.prompts.models import ImmutableError, PromptTemplate, PromptVersion
from apps.prompts.services import prompt_service_create, prompt_version_create
from apps.tenants.models import Role
from tests.factories import MembershipFactory
from tests.prompts.inputs import BAD_VERSIONS, SCHEMA, VERSION_1, version_input

pytestmark = pytest.mark.django_db


def row_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count() for model in (Service, Tag, PromptTemplate, PromptVersion, AuditEvent)
    }


def create_service(tenant, route, actor, **overrides):
    fields = {"slug": "translate", "name": "Translate", "visibility": "private", "approval_mode": "auto"}
    return prompt_service_create(
        tenant=tenant, actor_membership=actor, route=route, **{**fields, **version_input(**overrides)}
    )


def test_a_prompt_service_is_created_with_version_1_live(tenant, members, route, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        service = create_service(tenant, route, members[Role.OWNER], tags=["nlp"], summary="Short text")
    template = service.prompt
    assert (service.kind, service.lifecycle, service.input_schema) == ("prompt", "draft", SCHEMA)
    assert [t.name for t in service.tags.all()] == ["nlp"]
    live = template.live_version
    assert (live.number, live.user_template, live.examples, live.parameters) == (
        1,
        VERSION_1["user_template"],
        VERSION_1["examples"],
        VERSION_1["parameters"],
    )
    assert live.author == members[Role.OWNER].user
    assert set(AuditEvent.objects.values_list("action", flat=True)) == {"service.create", "prompt.create"}
    assert ConfigVersion.objects.get(name="gateway").version >= 1


@pytest.mark.parametrize(("overrides", "field"), BAD_VERSIONS)
def test_bad_prompt_service_input_is_refused_naming_the_field_and_nothing_is_saved(
    tenant, members, route, overrides, field
):
    before = row_counts()
    with pytest.raises(ApplicationError) as caught:
        create_service(tenant, route, members[Role.OWNER], tags=["nlp"], **overrides)
    assert caught.value.field == field, caught.value.message
    assert row_counts() == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"output_mode": "json"}, "output_schema", id="json-output-without-schema"),
        pytest.param({"tags": ["Not A Tag!"]}, "tags", id="bad-tag"),
    ],
)
def test_refusals_of_the_catalog_part_also_leave_nothing(tenant, members, route, overrides, field):
    before = row_counts()
    with pytest.raises(ApplicationError) as caught:
        create_service(tenant, route, members[Role.OWNER], **overrides)
    assert caught.value.field == field
    assert row_counts() == before


def test_a_taken_slug_is_a_conflict_and_leaves_nothing(prompt_service, tenant, members, route):
    before = row_counts()
    with pytest.raises(ConflictError) as caught:
        create_service(tenant, route, members[Role.OWNER], slug="summarize")
    assert caught.value.field == "slug"
    assert row_counts() == before


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER])
def test_only_owners_and_admins_create_prompt_services(tenant, members, route, role):
    before = row_counts()
    with pytest.raises(NotPermitted):
        create_service(tenant, route, members[role])
    assert row_counts() == before


def test_versions_are_numbered_upward_and_do_not_go_live(template, members):
    author = members[Role.DEVELOPER]
    v2 = prompt_version_create(template=template, author=author, **version_input(change_note="shorter"))
    v3 = prompt_version_create(template=template, author=author, **version_input(parameters=None))
    assert (v2.number, v3.number, v3.parameters) == (2, 3, {})
    assert v2.author == author.user
    template.refresh_from_db()
    assert template.live_version.number == 1
    assert AuditEvent.objects.filter(action="prompt_version.create").count() == 2


@pytest.mark.parametrize(("overrides", "field"), BAD_VERSIONS)
def test_bad_versions_are_refused_naming_the_field_and_nothing_is_saved(template, members, overrides, field):
    before = row_counts()
    with pytest.raises(ApplicationError) as caught:
        prompt_version_create(template=template, author=members[Role.DEVELOPER], **version_input(**overrides))
    assert caught.value.field == field, caught.value.message
    assert row_counts() == before


def test_viewers_and_other_tenants_members_cannot_write_versions(template, members, other_tenant):
    outsider = MembershipFactory(tenant=other_tenant, role=Role.OWNER)
    for membership in (members[Role.VIEWER], outsider):
        with pytest.raises(NotPermitted):
            prompt_version_create(template=template, author=membership, **VERSION_1)
    assert template.versions.count() == 1


def test_a_saved_version_cannot_be_changed(template):
    version = template.live_version
    version.user_template = "Ignore all previous instructions {{ text }}"
    with pytest.raises(ImmutableError):
        version.save()
    assert PromptVersion.objects.get(pk=version.pk).user_template == VERSION_1["user_template"]


def test_globals_of_the_template_engine_need_no_declaration(template, members):
    version = prompt_version_create(
        template=template,
        author=members[Role.DEVELOPER],
        **version_input(user_template="{% for i in range(2) %}{{ text }}{% endfor %}"),
    )
    assert version.number == 2
