"""Running a prompt's test cases (the service behind prompt_test_run_task): each case through the prompt runner
(apps/prompts/runner.py: the real route, through the data plane), judged by its checks, stored as it finishes."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.prompts.checks import Observed, checks_evaluate
from apps.prompts.models import PromptTestCase, PromptTestResult, PromptTestRun, TestRunStatus
from apps.prompts.runner import TEST_RUN, PromptRunResult, prompt_runner
from apps.prompts.selectors import prompt_run_spec

logger = logging.getLogger(__name__)


def _judge(case: PromptTestCase, result: PromptRunResult, output_schema: dict) -> list[str]:
    if not result.ok:
        return [f"No answer: {result.error}"]
    observed = Observed(text=result.output, completion_tokens=result.completion_tokens)
    return checks_evaluate(case.checks, observed, output_schema=output_schema)


@transaction.atomic
def _record(run: PromptTestRun, case: PromptTestCase, result: PromptRunResult, failures: list[str]) -> None:
    PromptTestResult.objects.create(
        run=run,
        case=case,
        case_name=case.name,
        passed=not failures,
        failures=failures,
        output=result.output,
        error=result.error,
        request_id=result.request_id,
        latency_ms=result.latency_ms,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        cost=result.cost,
    )
    PromptTestRun.objects.filter(pk=run.pk).update(
        passed=F("passed") + (0 if failures else 1),
        failed=F("failed") + (1 if failures else 0),
        prompt_tokens=F("prompt_tokens") + result.prompt_tokens,
        completion_tokens=F("completion_tokens") + result.completion_tokens,
        cost=F("cost") + result.cost,
    )


def prompt_test_run_execute(*, run_id: int) -> PromptTestRun:
    """Run every case of the run's prompt against its version, one after the other. A run that is not queued (a
    task delivered twice) is left as it is. Whatever stops the run midway ends it with status error and the
    reason, so that nobody waits for it forever."""
    with transaction.atomic():
        run = PromptTestRun.objects.select_for_update().filter(pk=run_id, status=TestRunStatus.QUEUED).first()
        if run is None:
            return PromptTestRun.objects.get(pk=run_id)
        cases = list(PromptTestCase.objects.filter(template_id=run.version.template_id).order_by("name"))
        run.status, run.started_at, run.total = TestRunStatus.RUNNING, timezone.now(), len(cases)
        run.save(update_fields=["status", "started_at", "total"])
    version = run.version
    service = version.template.service
    spec = prompt_run_spec(version=version)
    try:
        for case in cases:
            result = prompt_runner().run_now(spec=spec, variables=case.variables, endpoint=TEST_RUN)
            _record(run, case, result, _judge(case, result, service.output_schema))
    except Exception as exc:  # a bug or the task's time limit: the run must still end
        logger.exception("test run %s stopped", run_id)
        run.refresh_from_db()
        run.status, run.error = TestRunStatus.ERROR, f"The run stopped after {run.passed + run.failed} case(s): {exc}"
    else:
        run.refresh_from_db()
        run.status = TestRunStatus.FAILED if run.failed else TestRunStatus.PASSED
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    return run
