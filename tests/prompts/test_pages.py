"""The test-case and playground pages: who sees what, field errors that keep what was typed, runs that poll until
they are finished, and the playground's run endpoint streaming a draft's answer from the real route."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import orjson
import pytest
from django.urls import reverse
from django.utils import timezone

from apps.analytics.models import CallLog
from apps.gateway import wiring
from apps.prompts.models import PromptTestCase, PromptTestRun
from apps.prompts.services import prompt_test_case_create, prompt_version_create
from apps.tenants.models import Role
from tests.prompts.inputs import version_input

CASES = reverse("prompts:testcase-list", args=["summarize"])
PLAYGROUND = reverse("prompts:playground", args=["summarize"])
RUN = reverse("prompts:playground-run", args=["summarize"])


@pytest.fixture
def case(template):
    return prompt_test_case_create(
        template=template,
        actor_membership=None,
        name="short text",
        variables={"text": "the cat sat", "words": 2},
        checks=[{"type": "contains", "value": "cat"}],
    )


def edit_url(case) -> str:
    return reverse("prompts:testcase-edit", args=["summarize", case.pk])


@pytest.mark.django_db
@pytest.mark.parametrize("role", Role.values)
def test_members_read_the_cases_and_only_developers_and_up_see_the_forms(case, members, client_for, role):
    page = client_for(members[role].user).get(CASES)
    assert page.status_code == 200
    html = page.content.decode()
    assert "short text" in html
    assert "{&quot;text&quot;: &quot;the cat sat&quot;, &quot;words&quot;: 2}" in html  # JSON, not Python
    assert ">null</textarea>" not in html  # the new case's boxes start empty
    writer = role != Role.VIEWER
    assert ("New test case" in html) is writer
    assert ("Run 1 case" in html) is writer
    assert (edit_url(case) in html) is writer


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", PLAYGROUND, None),
        ("post", RUN, None),
        ("post", CASES, {"name": "x", "variables": "{}", "checks": "[]"}),
        ("get", "edit", None),
        ("post", reverse("prompts:testrun-start", args=["summarize"]), {"version": "1"}),
    ],
)
def test_viewers_get_the_403_page_naming_the_role(case, members, client_for, method, path, data):
    path = edit_url(case) if path == "edit" else path
    response = getattr(client_for(members[Role.VIEWER].user), method)(path, data)
    assert response.status_code == 403
    assert "developer role" in response.content.decode()
    assert PromptTestCase.objects.count() == 1
    assert not PromptTestRun.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("path", [CASES, PLAYGROUND, "edit", reverse("prompts:testrun-detail", args=["summarize", 1])])
def test_another_tenant_gets_404_and_anonymous_people_the_login_page(case, mallory, client, client_for, path):
    path = edit_url(case) if path == "edit" else path
    assert client.get(path).status_code == 302
    assert client_for(mallory).get(path).status_code == 404


@pytest.mark.django_db
def test_a_bad_check_is_shown_at_its_field_and_what_was_typed_is_kept(template, members, client_for):
    typed = '[{"type": "regex", "pattern": "(open"}]'
    response = client_for(members[Role.DEVELOPER].user).post(
        CASES, {"name": "my case", "variables": '{"text": "hello"}', "checks": typed}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_checks_error"' in html
    assert "Check 1, pattern: is not a valid regular expression" in html
    assert "my case" in html
    assert "(open" in html
    assert not PromptTestCase.objects.exists()


@pytest.mark.django_db
def test_a_case_is_added_edited_and_deleted_from_the_pages(case, members, client_for):
    client = client_for(members[Role.DEVELOPER].user)
    added = client.post(
        CASES, {"name": "long text", "variables": '{"text": "a b c"}', "checks": '[{"type": "max_tokens", "max": 9}]'}
    )
    assert added.status_code == 302
    new = PromptTestCase.objects.get(name="long text")
    assert (new.variables, new.checks) == ({"text": "a b c"}, [{"type": "max_tokens", "max": 9}])

    bad = client.post(edit_url(new), {"name": "short text", "variables": "{}", "checks": "[]"})
    assert bad.status_code == 409
    assert "already has a test case named" in bad.content.decode()

    saved = client.post(edit_url(new), {"name": "longer text", "variables": '{"text": "a"}', "checks": "[]"})
    assert saved.status_code == 302
    new.refresh_from_db()
    assert (new.name, new.checks) == ("longer text", [])

    deleted = client.post(reverse("prompts:testcase-delete", args=["summarize", new.pk]), HTTP_HX_REQUEST="true")
    assert deleted.headers["HX-Redirect"] == CASES
    assert list(PromptTestCase.objects.values_list("name", flat=True)) == ["short text"]


@pytest.mark.django_db
def test_a_run_started_from_the_page_shows_and_polls_until_it_is_finished(case, members, client_for):
    client = client_for(members[Role.DEVELOPER].user)
    response = client.post(reverse("prompts:testrun-start", args=["summarize"]), {"version": "1"})
    run = PromptTestRun.objects.get()  # queued: its task is sent once the transaction commits
    detail = reverse("prompts:testrun-detail", args=["summarize", run.pk])
    assert response.headers["Location"] == detail
    page = client.get(detail).content.decode()
    assert 'hx-trigger="every 1s"' in page

    run.status, run.passed, run.total = "passed", 1, 1
    run.save()
    fragment = client.get(detail, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in fragment
    assert "<strong data-run-passed>1</strong> passed" in fragment


@pytest.mark.django_db
def test_a_run_that_lost_its_worker_stops_polling_and_says_so(case, members, client_for):
    run = PromptTestRun.objects.create(version=case.template.live_version, total=1)
    PromptTestRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=30))
    detail = reverse("prompts:testrun-detail", args=["summarize", run.pk])
    fragment = client_for(members[Role.VIEWER].user).get(detail, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in fragment
    assert "no worker is running it any more" in fragment


@pytest.mark.django_db
def test_a_run_of_a_version_that_does_not_exist_is_refused_at_the_field(case, members, client_for):
    response = client_for(members[Role.DEVELOPER].user).post(
        reverse("prompts:testrun-start", args=["summarize"]), {"version": "7"}
    )
    assert response.status_code == 400
    assert 'id="id_version_error"' in response.content.decode()
    assert not PromptTestRun.objects.exists()


@pytest.mark.django_db
def test_the_playground_form_is_generated_from_the_versions_variables_schema(template, members, client_for):
    html = client_for(members[Role.DEVELOPER].user).get(PLAYGROUND).content.decode()
    assert '<textarea id="var-text" data-var="text" data-kind="string" rows="4" required>' in html  # a long string
    assert 'type="number" id="var-words" data-var="words" data-kind="integer"' in html
    assert f'data-run-url="{RUN}"' in html
    assert "js/prompt_playground.js" in html


async def _read(response) -> list[dict]:
    body = b"".join([chunk async for chunk in response.streaming_content])
    return [orjson.loads(line[6:]) for line in body.split(b"\n\n") if line.startswith(b"data: ")]


@pytest.mark.django_db(transaction=True)
def test_the_playground_streams_the_drafts_answer_and_logs_the_call(
    fresh_gateway, draft, tenant, members, client_for, fake_upstream
):
    body = {"version": draft.number, "variables": {"text": "The cat sat.", "words": 2}}
    response = client_for(members[Role.DEVELOPER].user).post(RUN, body, content_type="application/json")
    assert (response.status_code, response["Content-Type"]) == (200, "text/event-stream")
    events = asyncio.run(_read(response))
    assert [e["type"] for e in events] == ["delta"] * (len(events) - 1) + ["done"]
    done = events[-1]
    assert "".join(e["text"] for e in events[:-1]) == done["output"] == fake_upstream.reply
    assert done["version"] == draft.number
    assert done["completion_tokens"] > 0
    assert float(done["cost"]) > 0
    assert fake_upstream.requests[-1].body["messages"][-1]["content"] == "In at most 2 words, the gist of: The cat sat."
    asyncio.run(wiring.get_call_sink().flush())
    log = CallLog.objects.get(request_id=done["request_id"])
    assert (log.endpoint, log.tenant_id, log.app_id) == ("playground", tenant.pk, None)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(b"{", "(body)", id="not-json"),
        pytest.param(b"[1]", "(body)", id="not-an-object"),
        pytest.param(b'{"variables": {}}', "version", id="no-version"),
        pytest.param(b'{"version": 9, "variables": {}}', "version", id="unknown-version"),
        pytest.param(b'{"version": 1, "variables": [1]}', "variables", id="variables-not-an-object"),
    ],
)
def test_bad_playground_input_is_a_400_naming_the_field(template, members, client_for, body, field):
    response = client_for(members[Role.DEVELOPER].user).post(RUN, body, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


@pytest.mark.django_db
def test_the_publish_confirmation_shows_the_versions_last_test_run(template, members, client_for):
    v2 = prompt_version_create(template=template, author=None, **version_input(user_template="Short: {{ text }}"))
    page = reverse("prompts:prompt-detail", args=["summarize"])
    client = client_for(members[Role.ADMIN].user)

    def confirmation() -> str:
        html = client.get(page).content.decode()
        start = html.index('hx-confirm="Publish v2')
        return html[start : html.index('">', start)]

    assert "This prompt has no test cases to vouch for it." in confirmation()
    prompt_test_case_create(template=template, actor_membership=None, name="one", variables={}, checks=[])
    assert "Warning: its test cases never ran on v2." in confirmation()
    PromptTestRun.objects.create(version=v2, status="failed", passed=1, failed=1, total=2)
    assert "Warning: its last test run failed (1 of 2 cases passed)." in confirmation()
    PromptTestRun.objects.create(version=v2, status="passed", passed=2, total=2)
    assert "Its last test run passed (2 of 2 cases)." in confirmation()
    assert "The next invocation uses it" in confirmation()
