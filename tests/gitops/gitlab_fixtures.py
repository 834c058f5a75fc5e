"""Fixtures of the GitLab sync tests: a fake GitLab the portal may reach (127.0.0.1 allowed), a tenant with
definitions connected to it. Import the fixtures a module uses by name."""

from __future__ import annotations

import pytest

from apps.gitops.services.sync_connection import gitlab_connection_set
from tests.fakes.gitlab import FakeGitLab
from tests.gitops.conftest import build_rich_tenant

WEBHOOK_SECRET = "whsec-test-1234"


@pytest.fixture
def fake_gitlab(settings):
    settings.GITLAB_ALLOW_PRIVATE_NETWORKS = ["127.0.0.1/32"]
    settings.GITLAB_TIMEOUT_SECONDS = 2.0
    settings.GITLAB_RETRY_BACKOFF_SECONDS = 0.01  # the retries are what is tested, not how long they wait
    with FakeGitLab() as fake:
        fake.seed({"README.md": "# Definitions\n", ".gitlab-ci.yml": "stages: [validate]\n"})
        yield fake


@pytest.fixture
def synced_tenant(db, fake_gitlab):
    """A rich tenant connected to the fake (branch main, folder definitions)."""
    tenant = build_rich_tenant()
    gitlab_connection_set(
        tenant=tenant,
        gitlab_url=fake_gitlab.url,
        project=fake_gitlab.project_path,
        token=fake_gitlab.token,
        webhook_secret=WEBHOOK_SECRET,
    )
    return tenant
