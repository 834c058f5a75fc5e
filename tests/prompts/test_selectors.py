"""Reads of prompts: diffs between versions, and what the gateway's snapshot loads."""

from __future__ import annotations

import pytest
from django.http import Http404

from apps.prompts.ab import choose_version
from apps.prompts.rendering import render_messages
from apps.prompts.selectors import (
    prompt_parts,
    prompt_template_list_live,
    prompt_version_diff,
    prompt_version_get_active,
    prompt_versions_serving,
)
from apps.prompts.services import prompt_ab_set, prompt_version_create
from apps.tenants.models import Role
from tests.factories import PromptServiceFactory, PromptTemplateFactory, PromptVersionFactory
from tests.prompts.inputs import version_input

pytestmark = pytest.mark.django_db


@pytest.fixture
def v2(template, members):
    return prompt_version_create(
        template=template,
        author=members[Role.DEVELOPER],
        **version_input(user_template="Summarize: {{ text }}", parameters={"temperature": 0.7, "max_tokens": 200}),
    )


def test_the_diff_is_unified_per_field_and_empty_where_nothing_changed(template, v2):
    diff = prompt_version_diff(template=template, a=1, b=2)
    assert diff["system_template"] == diff["examples"] == diff["variables_schema"] == ""
    assert diff["user_template"].splitlines() == [
        "--- v1/user_template",
        "+++ v2/user_template",
        "@@ -1 +1 @@",
        "-Summarize in {{ words }} words: {{ text }}",
        "+Summarize: {{ text }}",
    ]
    assert '-  "temperature": 0.2' in diff["parameters"].splitlines()
    assert '+  "temperature": 0.7' in diff["parameters"].splitlines()


def test_the_diff_goes_both_ways(template, v2):
    assert prompt_version_diff(template=template, a=2, b=1)["user_template"].splitlines()[3] == "-Summarize: {{ text }}"


@pytest.mark.parametrize(("a", "b"), [(1, 9), (0, 1), ("x", 1)])
def test_diffing_an_unknown_version_is_not_found(template, a, b):
    with pytest.raises(Http404):
        prompt_version_diff(template=template, a=a, b=b)


def test_the_diff_does_not_reach_another_prompts_versions(template):
    other = PromptTemplateFactory()
    PromptVersionFactory(template=other)
    with pytest.raises(Http404):
        prompt_version_diff(template=template, a=1, b=2)


def test_the_active_version_of_a_service(prompt_service):
    assert prompt_version_get_active(service=prompt_service).number == 1
    assert prompt_version_get_active(service=PromptServiceFactory()) is None


def test_the_gateway_loads_every_serving_version_in_constant_queries(template, v2, members, django_assert_num_queries):
    prompt_ab_set(
        template=template,
        split=[{"version": 1, "weight": 3}, {"version": 2, "weight": 1}],
        sticky_by="app",
        actor_membership=members[Role.ADMIN],
    )
    PromptVersionFactory(template=template)  # version 3: neither live nor in the split
    others = [PromptTemplateFactory() for _ in range(5)]
    PromptTemplateFactory(live=False)  # no live version: serves nothing
    with django_assert_num_queries(2):
        templates = prompt_template_list_live()
        serving = prompt_versions_serving(templates=templates)
        slugs = {t.service.slug for t in templates}
    assert slugs == {"summarize", *(t.service.slug for t in others)}
    assert sorted(serving[template.pk]) == [1, 2]
    assert all(sorted(serving[t.pk]) == [1] for t in others)


def test_what_the_data_plane_does_with_it(template, v2, members):
    """The gateway's step: choose by the sticky key, then render the chosen version's parts."""
    prompt_ab_set(
        template=template,
        split=[{"version": 1, "weight": 1}, {"version": 2, "weight": 1}],
        sticky_by="app",
        actor_membership=members[Role.ADMIN],
    )
    template.refresh_from_db()
    serving = prompt_versions_serving(templates=[template])[template.pk]
    split = [(entry["version"], entry["weight"]) for entry in template.ab_split]
    chosen = {choose_version(live=1, split=split, sticky_key=f"{template.service_id}:{n}") for n in range(50)}
    assert chosen == {1, 2}
    messages = render_messages(prompt_parts(serving[2]), {"text": "a long story"})
    assert messages[-1] == {"role": "user", "content": "Summarize: a long story"}
    assert messages[0] == {"role": "system", "content": "You summarize text."}
