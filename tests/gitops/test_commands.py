"""manage.py gitops export / plan / apply on a directory: exit codes, diffs, idempotence, --prune."""

from __future__ import annotations

import pytest

from apps.catalog.models import Service
from apps.core.models import AuditEvent
from apps.prompts.models import PromptTemplate
from apps.providers.models import Route
from apps.tenants.models import Membership, Tenant
from tests.factories import UserFactory
from tests.gitops.helpers import counts, edit, gitops

pytestmark = pytest.mark.django_db


@pytest.fixture
def exported(rich_tenant, tmp_path):
    code, out, _ = gitops("export", str(tmp_path), "--tenant", "rich")
    assert code == 0, out
    return tmp_path


def test_export_writes_one_file_per_object_and_a_backstage_entity_per_service(exported):
    names = sorted(p.relative_to(exported).as_posix() for p in exported.rglob("*.yaml"))
    assert names == [
        "catalog-info/_location.yaml",
        "catalog-info/rich-chat.yaml",
        "catalog-info/rich-summary.yaml",
        "limits.yaml",
        "prompts/rich-summary/prompt.yaml",
        "prompts/rich-summary/tests.yaml",
        "prompts/rich-summary/v1.yaml",
        "prompts/rich-summary/v2.yaml",
        "prompts/rich-summary/v3.yaml",
        "providers/echo.yaml",
        "providers/local.yaml",
        "routes/cheap.yaml",
        "routes/team%2Fsmart.yaml",
        "services/rich-chat.yaml",
        "services/rich-summary.yaml",
        "tenant.yaml",
    ]
    version = (exported / "prompts/rich-summary/v1.yaml").read_text()
    assert "system_template: |-\n  You summarize text.\n  Be brief.\n" in version  # a block scalar diffs by line
    backstage = (exported / "catalog-info/rich-chat.yaml").read_text()
    assert "kind: API" in backstage
    assert "lifecycle: deprecated" in backstage
    assert '"openapi": "3.1.0"' in backstage
    location = (exported / "catalog-info/_location.yaml").read_text()
    assert "kind: Location" in location
    assert "  targets:\n  - ./rich-chat.yaml\n  - ./rich-summary.yaml\n" in location


def test_plan_on_unchanged_files_reports_no_changes_and_exits_0(exported):
    code, out, err = gitops("plan", str(exported))
    assert (code, err) == (0, "")
    assert out.startswith("No changes")


def test_a_changed_prompt_version_shows_in_the_plan_with_exit_2_and_apply_refuses_it(exported):
    edit(exported, "prompts/rich-summary/v2.yaml", "Summarize briefly", "Summarize very briefly")
    before = counts()

    code, out, _ = gitops("plan", str(exported))
    assert code == 2
    assert "~ update PromptVersion rich-summary/v2 (prompts/rich-summary/v2.yaml)" in out
    assert "-user_template: 'Summarize briefly: {{ text }}'" in out
    assert "+user_template: 'Summarize very briefly: {{ text }}'" in out

    code, _, err = gitops("apply", str(exported))
    assert code == 1
    assert "prompts/rich-summary/v2.yaml: version: prompt versions are immutable" in err
    assert counts() == before


def test_a_new_version_made_live_is_applied_once(exported):
    (exported / "prompts/rich-summary/v4.yaml").write_text(
        (exported / "prompts/rich-summary/v3.yaml")
        .read_text()
        .replace("version: 3", "version: 4")
        .replace("one line", "two lines")
    )
    edit(exported, "prompts/rich-summary/prompt.yaml", "live_version: 2", "live_version: 4")
    edit(exported, "prompts/rich-summary/prompt.yaml", "- version: 3\n  weight: 20", "- version: 4\n  weight: 20")

    code, out, _ = gitops("plan", str(exported))
    assert code == 2
    assert "+ create PromptVersion rich-summary/v4" in out
    assert "~ update Prompt rich-summary" in out

    code, out, err = gitops("apply", str(exported))
    assert (code, err) == (0, ""), out
    template = PromptTemplate.objects.get(service__slug="rich-summary")
    assert template.live_version.user_template == "Summarize in two lines:\n{{ text }}"
    assert template.ab_split == [{"version": 2, "weight": 80}, {"version": 4, "weight": 20}]
    events = AuditEvent.objects.count()

    assert gitops("apply", str(exported))[0] == 0  # idempotent: nothing to do, nothing written
    assert AuditEvent.objects.count() == events
    assert gitops("plan", str(exported))[0] == 0


def test_changed_fields_are_applied_through_the_services(exported):
    edit(exported, "services/rich-chat.yaml", "requests_per_day: 100", "requests_per_day: 500")
    edit(exported, "routes/team%2Fsmart.yaml", "weight: 3", "weight: 5")
    edit(exported, "tenant.yaml", "name: Rich Corp", "name: Richer Corp")

    assert gitops("apply", str(exported))[0] == 0

    chat = Service.objects.get(slug="rich-chat")
    assert chat.plans.get(slug="free").requests_per_day == 500
    assert Route.objects.get(alias="team/smart").deployments.get(model__name="echo-fast").weight == 5
    assert chat.tenant.name == "Richer Corp"
    assert AuditEvent.objects.filter(action="plan.update", source="cli").exists()
    assert gitops("plan", str(exported))[0] == 0


def test_prune_deletes_what_the_files_no_longer_have(exported):
    (exported / "services/rich-chat.yaml").unlink()
    (exported / "routes/team%2Fsmart.yaml").unlink()

    code, out, _ = gitops("plan", str(exported))
    assert (code, out.startswith("No changes")) == (0, True)  # without --prune, missing files delete nothing

    code, out, _ = gitops("plan", str(exported), "--prune")
    assert code == 2
    assert "- delete Service rich-chat (services/rich-chat.yaml)" in out
    assert "- delete Route team/smart" in out

    assert gitops("apply", str(exported), "--prune")[0] == 0
    assert not Service.objects.filter(slug="rich-chat").exists()
    assert not Route.objects.filter(alias="team/smart").exists()
    assert gitops("plan", str(exported), "--prune")[0] == 0


def test_export_again_removes_stale_files_and_leaves_others(exported):
    (exported / "services/gone.yaml").write_text("old")
    (exported / "README.md").write_text("mine")

    assert gitops("export", str(exported), "--tenant", "rich")[0] == 0

    assert not (exported / "services/gone.yaml").exists()
    assert (exported / "README.md").read_text() == "mine"


def test_export_of_an_unknown_tenant_is_refused(db, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No tenant 'nope'"):
        gitops("export", str(tmp_path), "--tenant", "nope")


def test_apply_creates_a_missing_tenant_with_its_owner(exported):
    owner = UserFactory(username="olivia")
    for path in [*exported.glob("services/*.yaml"), *exported.glob("prompts/*/*.yaml")]:
        path.unlink()
    edit(exported, "tenant.yaml", "slug: rich", "slug: rich-copy")

    code, out, err = gitops("apply", str(exported), "--owner", "olivia")

    assert (code, err) == (0, ""), out
    copy = Tenant.objects.get(slug="rich-copy")
    assert Membership.objects.get(tenant=copy).user == owner
    assert Route.objects.for_tenant(copy).count() == 2
    assert gitops("plan", str(exported))[0] == 0


def test_a_refused_apply_does_not_leave_the_tenant_it_created(exported):
    edit(exported, "tenant.yaml", "slug: rich", "slug: rich-copy")  # service slugs are global: rich-chat is taken

    code, _, err = gitops("apply", str(exported))

    assert code == 1
    assert "services/rich-chat.yaml: slug: A service with slug 'rich-chat' already exists." in err
    assert not Tenant.objects.filter(slug="rich-copy").exists()


def test_test_cases_follow_their_file(exported):
    edit(exported, "prompts/rich-summary/tests.yaml", "value: hello", "value: hi")
    with (exported / "prompts/rich-summary/tests.yaml").open("a") as tests:
        tests.write("- name: empty\n  variables:\n    text: ''\n  checks: []\n")

    assert gitops("apply", str(exported))[0] == 0

    template = PromptTemplate.objects.get(service__slug="rich-summary")
    cases = {case.name: case.checks for case in template.test_cases.all()}
    assert cases == {"empty": [], "short": [{"type": "contains", "value": "hi"}]}
    (exported / "prompts/rich-summary/tests.yaml").unlink()
    assert gitops("apply", str(exported), "--prune")[0] == 0
    assert not template.test_cases.exists()
