"""The prompt runner end to end: a version (a draft, not live) rendered and sent through its real route to a fake
OpenAI upstream by the gateway's pipeline, recorded in the call log as the tenant's playground or test-run call;
test runs through the Celery task, with passing and failing cases."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from apps.analytics.models import CallLog
from apps.gateway import wiring
from apps.prompts.models import PromptTestResult, PromptTestRun
from apps.prompts.rendering import render_messages
from apps.prompts.runner import PLAYGROUND, TEST_RUN, PromptRunDelta, PromptRunResult, prompt_runner
from apps.prompts.selectors import prompt_parts, prompt_run_spec
from apps.prompts.services import (
    prompt_test_case_create,
    prompt_test_run_start,
)
from apps.prompts.tasks import prompt_test_run_task

pytestmark = pytest.mark.django_db(transaction=True)

VARIABLES = {"text": "The cat sat on the mat all afternoon.", "words": 3}


@pytest.fixture(autouse=True)
def _fresh_gateway(fresh_gateway):
    return


async def _collect(version, *, stream: bool, endpoint: str = PLAYGROUND, variables=VARIABLES) -> list:
    events = [
        event
        async for event in prompt_runner().run(
            spec=prompt_run_spec(version=version), variables=variables, stream=stream, endpoint=endpoint
        )
    ]
    await wiring.get_call_sink().flush()
    return events


def test_the_playground_streams_a_draft_through_its_route_and_logs_a_playground_call(draft, tenant, fake_upstream):
    events = asyncio.run(_collect(draft, stream=True))

    deltas, result = events[:-1], events[-1]
    assert all(isinstance(event, PromptRunDelta) for event in deltas)
    assert len(deltas) > 1
    assert "".join(delta.text for delta in deltas) == fake_upstream.reply
    assert isinstance(result, PromptRunResult)
    assert (result.ok, result.output, result.status) == (True, fake_upstream.reply, 200)
    assert result.prompt_tokens > 0
    assert result.completion_tokens > 0
    assert result.cost == (Decimal("0.15") * result.prompt_tokens + Decimal("0.60") * result.completion_tokens) / 10**6

    sent = fake_upstream.requests[-1].body
    assert sent["messages"] == render_messages(prompt_parts(draft), VARIABLES)  # version 2, not the live one
    assert sent["messages"][-1]["content"].startswith("In at most 3 words")
    assert (sent["model"], sent["stream"], sent["temperature"]) == ("gpt-4o-mini", True, 0.2)

    log = CallLog.objects.get(request_id=result.request_id)
    assert (log.endpoint, log.tenant_id, log.app_id, log.key_prefix) == (PLAYGROUND, tenant.pk, None, "")
    assert (log.service_id, log.route, log.status, log.stream) == (draft.template.service_id, "smart", 200, True)
    assert (log.prompt_tokens, log.completion_tokens, log.cost) == (
        result.prompt_tokens,
        result.completion_tokens,
        result.cost,
    )


def test_a_run_without_streaming_answers_once(draft, fake_upstream):
    events = asyncio.run(_collect(draft, stream=False, endpoint=TEST_RUN))
    assert len(events) == 1
    assert (events[0].output, events[0].ok) == (fake_upstream.reply, True)
    assert "stream" not in fake_upstream.requests[-1].body
    assert CallLog.objects.get(request_id=events[0].request_id).endpoint == TEST_RUN


@pytest.mark.parametrize(
    ("variables", "script", "code", "words"),
    [
        pytest.param({"words": 3}, (), "invalid_input", "text", id="input-against-the-schema"),
        pytest.param(VARIABLES, ("status:500",), "upstream_error", "fake-openai", id="upstream-fails"),
    ],
)
def test_a_failed_run_says_why_and_is_logged(draft, tenant, fake_upstream, variables, script, code, words):
    fake_upstream.script(*script)
    result = asyncio.run(_collect(draft, stream=True, variables=variables))[-1]
    assert not result.ok
    assert words in result.error
    assert result.error_code == code
    log = CallLog.objects.get(request_id=result.request_id)
    assert (log.endpoint, log.tenant_id, log.status) == (PLAYGROUND, tenant.pk, result.status)


def test_another_tenants_prompt_is_not_run(draft, other_tenant, fake_upstream):
    spec = prompt_run_spec(version=draft)
    foreign = type(spec)(**{**spec.__dict__, "tenant_id": other_tenant.pk})
    result = prompt_runner().run_now(spec=foreign, variables=VARIABLES, endpoint=PLAYGROUND)
    assert (result.ok, result.status) == (False, 404)
    assert not fake_upstream.requests


def cases(template):
    prompt_test_case_create(
        template=template,
        actor_membership=None,
        name="answers",
        variables=VARIABLES,
        checks=[{"type": "contains", "value": "TEST", "ignore_case": True}, {"type": "max_tokens", "max": 50}],
    )
    prompt_test_case_create(
        template=template,
        actor_membership=None,
        name="mentions the cat",
        variables={"text": "A cat.", "words": 1},
        checks=[{"type": "contains", "value": "cat"}, {"type": "regex", "pattern": r"^This"}],
    )


def test_a_test_run_judges_each_case_and_logs_test_run_calls(draft, members, tenant, fake_upstream, settings):
    cases(draft.template)
    run = prompt_test_run_start(version=draft, actor_membership=members["developer"])  # on_commit: the eager task

    run.refresh_from_db()
    assert (run.status, run.total, run.passed, run.failed, run.error) == ("failed", 2, 1, 1, "")
    assert run.started_by == members["developer"].user
    assert run.finished_at >= run.started_at
    results = {result.case_name: result for result in PromptTestResult.objects.filter(run=run)}
    assert (results["answers"].passed, results["answers"].failures) == (True, [])
    assert results["mentions the cat"].passed is False
    assert results["mentions the cat"].failures == ["Check 1 (contains): does not contain 'cat'."]
    for result in results.values():
        assert (result.output, result.error) == (fake_upstream.reply, "")
        assert result.completion_tokens > 0
        assert result.cost > 0
    assert run.cost == sum(result.cost for result in results.values())
    assert run.prompt_tokens == sum(result.prompt_tokens for result in results.values())

    sent = [request.body["messages"][-1]["content"] for request in fake_upstream.requests]
    assert sent == [
        "In at most 3 words, the gist of: The cat sat on the mat all afternoon.",
        "In at most 1 words, the gist of: A cat.",
    ]
    logs = CallLog.objects.filter(endpoint=TEST_RUN)
    assert sorted(logs.values_list("request_id", flat=True)) == sorted(r.request_id for r in results.values())
    assert set(logs.values_list("tenant_id", "app_id", "service_id")) == {(tenant.pk, None, draft.template.service_id)}


def test_the_celery_task_runs_a_queued_run_once(draft, members, fake_upstream):
    cases(draft.template)
    run = PromptTestRun.objects.create(version=draft, total=2)  # as prompt_test_run_start leaves it

    assert prompt_test_run_task.delay(run.pk).get() == "failed"
    assert prompt_test_run_task.delay(run.pk).get() == "failed"  # delivered twice: the second does nothing
    assert PromptTestResult.objects.filter(run=run).count() == 2
    assert len(fake_upstream.requests) == 2


def test_a_run_whose_upstream_fails_records_no_answer_for_the_case(draft, members, fake_upstream):
    cases(draft.template)
    fake_upstream.script("status:500", "status:500")
    run = prompt_test_run_start(version=draft, actor_membership=members["developer"])
    run.refresh_from_db()
    assert (run.status, run.passed, run.failed) == ("failed", 0, 2)
    result = PromptTestResult.objects.filter(run=run).first()
    assert result.failures[0].startswith("No answer: ")
    assert "fake-openai" in result.error


def test_a_run_through_the_api_answers_with_each_cases_outcome(draft, members, api_client_for, fake_upstream):
    cases(draft.template)
    runs = f"/api/v1/tenants/acme/services/summarize/prompt/versions/{draft.number}/test-runs/"
    client = api_client_for(members["developer"].user)
    started = client.post(runs)
    assert started.status_code == 202, started.content
    body = started.json()  # the embedded default runs the task at once: the run is finished
    assert (body["version"], body["status"], body["passed"], body["failed"], body["total"]) == (2, "failed", 1, 1, 2)
    outcomes = {result["case_name"]: result for result in body["results"]}
    assert outcomes["mentions the cat"]["failures"] == ["Check 1 (contains): does not contain 'cat'."]
    for result in outcomes.values():
        assert result["output"] == fake_upstream.reply
        assert result["latency_ms"] > 0
        assert result["completion_tokens"] > 0
        assert float(result["cost"]) > 0
    assert client.get(f"{runs}{body['id']}/").json() == body
    assert [run["id"] for run in client.get(runs).json()["results"]] == [body["id"]]
