"""Celery tasks of the prompts app: thin, each calls one service."""

from __future__ import annotations

from celery import shared_task

from apps.prompts.execution import prompt_test_run_execute
from apps.prompts.models import TEST_RUN_TIME_LIMIT_SECONDS

# A run calls the model once per case (at most MAX_TEST_CASES), each within its route's deadline; past the soft
# limit the run ends with status error, its results so far kept.
SOFT_LIMIT_SECONDS = TEST_RUN_TIME_LIMIT_SECONDS - 60


@shared_task(name="prompts.test_run", soft_time_limit=SOFT_LIMIT_SECONDS, time_limit=TEST_RUN_TIME_LIMIT_SECONDS)
def prompt_test_run_task(run_id: int) -> str:
    """Run the test cases of a queued test run; returns the run's final status."""
    return prompt_test_run_execute(run_id=run_id).status
