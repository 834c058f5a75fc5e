"""Which version serves traffic: publish, rollback and A/B splits (owners and admins)."""

from __future__ import annotations

import pytest

from apps.core.errors import ApplicationError, NotPermitted
from apps.core.models import AuditEvent, ConfigVersion
from apps.prompts.services import prompt_ab_set, prompt_rollback, prompt_version_create, prompt_version_publish
from apps.tenants.models import Role
from tests.prompts.inputs import version_input

pytestmark = pytest.mark.django_db

WIDER_SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string"}, "words": {"type": "integer"}, "tone": {"type": "string"}},
    "required": ["text", "tone"],
}


@pytest.fixture
def versions(template, members):
    """Versions 2 and 3 next to the live version 1; version 3 adds a `tone` variable."""
    author = members[Role.DEVELOPER]
    prompt_version_create(template=template, author=author, **version_input(system_template="Be brief."))
    prompt_version_create(
        template=template,
        author=author,
        **version_input(user_template="{{ tone }}: {{ text }}", variables_schema=WIDER_SCHEMA),
    )
    return template


def config_version() -> int:
    return ConfigVersion.objects.filter(name="gateway").values_list("version", flat=True).first() or 0


def test_publishing_makes_a_version_live_syncs_the_input_schema_and_tells_the_gateway(
    versions, members, prompt_service, django_capture_on_commit_callbacks
):
    before = config_version()
    with django_capture_on_commit_callbacks(execute=True):
        template = prompt_version_publish(template=versions, version_number=3, actor_membership=members[Role.ADMIN])
    assert template.live_version.number == 3
    prompt_service.refresh_from_db()
    assert prompt_service.input_schema == WIDER_SCHEMA
    assert config_version() == before + 1
    event = AuditEvent.objects.get(action="prompt.publish")
    assert event.changes["live_version"] == [1, 3]


def test_publishing_ends_an_ab_split(versions, members):
    prompt_ab_set(
        template=versions,
        split=[{"version": 1, "weight": 1}, {"version": 2, "weight": 1}],
        sticky_by="app",
        actor_membership=members[Role.OWNER],
    )
    template = prompt_version_publish(template=versions, version_number=2, actor_membership=members[Role.OWNER])
    assert (template.live_version.number, template.ab_split) == (2, [])


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER])
def test_developers_and_viewers_cannot_decide_what_serves_traffic(versions, members, role):
    actor = members[role]
    with pytest.raises(NotPermitted):
        prompt_version_publish(template=versions, version_number=2, actor_membership=actor)
    with pytest.raises(NotPermitted):
        prompt_rollback(template=versions, version_number=1, actor_membership=actor)
    with pytest.raises(NotPermitted):
        prompt_ab_set(template=versions, split=[], sticky_by="app", actor_membership=actor)
    versions.refresh_from_db()
    assert versions.live_version.number == 1


def test_rollback_puts_an_older_version_back_in_one_step(versions, members, prompt_service):
    prompt_version_publish(template=versions, version_number=3, actor_membership=members[Role.ADMIN])
    template = prompt_rollback(template=versions, version_number=1, actor_membership=members[Role.ADMIN])
    assert template.live_version.number == 1
    prompt_service.refresh_from_db()
    assert prompt_service.input_schema == versions.live_version.variables_schema
    assert AuditEvent.objects.get(action="prompt.rollback").changes["live_version"] == [3, 1]


@pytest.mark.parametrize("number", [1, 2, 99])
def test_rollback_goes_only_to_an_existing_older_version(versions, members, number):
    with pytest.raises(ApplicationError) as caught:
        prompt_rollback(template=versions, version_number=number, actor_membership=members[Role.ADMIN])
    assert caught.value.field == "version"


def test_publishing_an_unknown_version_is_refused(versions, members):
    with pytest.raises(ApplicationError, match="no version 9"):
        prompt_version_publish(template=versions, version_number=9, actor_membership=members[Role.ADMIN])


def test_an_ab_split_is_stored_audited_and_tells_the_gateway(versions, members, django_capture_on_commit_callbacks):
    before = config_version()
    split = [{"version": 1, "weight": 90}, {"version": 2, "weight": 10}]
    with django_capture_on_commit_callbacks(execute=True):
        template = prompt_ab_set(
            template=versions, split=split, sticky_by="conversation", actor_membership=members[Role.ADMIN]
        )
    assert (template.ab_split, template.sticky_by, template.live_version.number) == (split, "conversation", 1)
    assert config_version() == before + 1
    assert AuditEvent.objects.get(action="prompt.ab_set").changes["ab_split"] == [[], split]


def test_an_empty_split_clears_it(versions, members):
    actor = members[Role.ADMIN]
    prompt_ab_set(
        template=versions,
        split=[{"version": 1, "weight": 1}, {"version": 2, "weight": 3}],
        sticky_by="app",
        actor_membership=actor,
    )
    assert prompt_ab_set(template=versions, split=[], sticky_by="app", actor_membership=actor).ab_split == []


@pytest.mark.parametrize(
    ("split", "sticky_by", "field"),
    [
        pytest.param([{"version": 1, "weight": 1}], "app", "split", id="one-entry"),
        pytest.param([{"version": 1, "weight": 1}, {"version": 1, "weight": 2}], "app", "split", id="duplicate"),
        pytest.param([{"version": 1, "weight": 1}, {"version": 2, "weight": 0}], "app", "split", id="zero-weight"),
        pytest.param([{"version": 1, "weight": 1}, {"version": 2, "weight": -5}], "app", "split", id="negative"),
        pytest.param([{"version": 1, "weight": 1}, {"version": 2, "weight": 1.5}], "app", "split", id="fraction"),
        pytest.param([{"version": 1, "weight": 1}, {"version": 2, "weight": True}], "app", "split", id="boolean"),
        pytest.param([{"version": 1, "weight": 1}, {"version": 9, "weight": 1}], "app", "split", id="no-such-version"),
        pytest.param([{"version": 1, "weight": 1}, {"version": 2}], "app", "split", id="missing-weight"),
        pytest.param([{"version": 1, "weight": 1}, {"version": 3, "weight": 1}], "app", "split", id="new-variable"),
        pytest.param({"version": 1, "weight": 1}, "app", "split", id="not-a-list"),
        pytest.param([], "user", "sticky_by", id="unknown-sticky-by"),
    ],
)
def test_bad_splits_are_refused_and_change_nothing(versions, members, split, sticky_by, field):
    with pytest.raises(ApplicationError) as caught:
        prompt_ab_set(template=versions, split=split, sticky_by=sticky_by, actor_membership=members[Role.ADMIN])
    assert caught.value.field == field
    versions.refresh_from_db()
    assert (versions.ab_split, versions.sticky_by) == ([], "app")
    assert not AuditEvent.objects.filter(action="prompt.ab_set").exists()
