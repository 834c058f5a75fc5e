"""A prompt API of `tenant`: `summarize` on route `smart`, version 1 live, created through the services."""

from __future__ import annotations

import pytest

from apps.prompts.services import prompt_service_create
from tests.prompts.inputs import VERSION_1


@pytest.fixture
def prompt_service(tenant, members, route):
    return prompt_service_create(
        tenant=tenant,
        actor_membership=None,
        slug="summarize",
        name="Summarize",
        route=route,
        visibility="private",
        approval_mode="manual",
        change_note="first",
        **VERSION_1,
    )


@pytest.fixture
def template(prompt_service):
    return prompt_service.prompt
