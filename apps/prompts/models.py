from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.models import TimeStampedModel


class StickyBy(models.TextChoices):
    APP = "app", "Calling app"
    CONVERSATION = "conversation", "Conversation"


class PromptTemplate(TimeStampedModel):
    """The prompt of a prompt API: its versions, the live one, and an optional A/B split."""

    service = models.OneToOneField("catalog.Service", on_delete=models.CASCADE, related_name="prompt")
    live_version = models.ForeignKey("PromptVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # [{"version": <number>, "weight": <int>}]; empty: the live version takes all traffic.
    ab_split = models.JSONField(default=list, blank=True)
    sticky_by = models.CharField(max_length=16, choices=StickyBy.choices, default=StickyBy.APP)

    class Meta:
        ordering = ["service__name"]

    def __str__(self) -> str:
        return f"prompt of {self.service}"


class ImmutableError(Exception):
    pass


class PromptVersion(models.Model):
    """One immutable version of a prompt: templates, examples, parameters and declared variables."""

    template = models.ForeignKey(PromptTemplate, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    system_template = models.TextField(blank=True)
    user_template = models.TextField()
    examples = models.JSONField(default=list, blank=True, help_text='[{"user": "...", "assistant": "..."}]')
    parameters = models.JSONField(default=dict, blank=True, help_text="model parameters: temperature, max_tokens…")
    variables_schema = models.JSONField(default=dict, help_text="JSON Schema of the variables (the input)")
    change_note = models.CharField(max_length=300, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["template", "-number"]
        constraints = [models.UniqueConstraint(fields=["template", "number"], name="prompt_version_unique_number")]

    def __str__(self) -> str:
        return f"{self.template.service.slug} v{self.number}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ImmutableError("prompt versions are immutable: create a new version instead")
        super().save(*args, **kwargs)


class PromptTestCase(TimeStampedModel):
    """One test case of a prompt: the variables to render it with and the checks its output must pass
    (apps/prompts/checks.py says what a check holds; they are validated when the case is saved)."""

    template = models.ForeignKey(PromptTemplate, on_delete=models.CASCADE, related_name="test_cases")
    name = models.CharField(max_length=100)
    variables = models.JSONField(default=dict, blank=True, help_text="the input variables of the case")
    checks = models.JSONField(default=list, blank=True, help_text='[{"type": "contains", "value": "…"}, …]')

    class Meta:
        ordering = ["template", "name"]
        constraints = [models.UniqueConstraint(fields=["template", "name"], name="prompt_test_case_unique_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def variables_json(self) -> str:
        return json.dumps(self.variables, ensure_ascii=False)


# The Celery task's hard time limit (apps/prompts/tasks.py): a run unfinished well after it lost its worker.
TEST_RUN_TIME_LIMIT_SECONDS = 16 * 60


class TestRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"  # at least one case failed its checks or got no answer
    ERROR = "error", "Error"  # the run itself could not complete


class PromptTestRun(models.Model):
    """All the test cases of a prompt run once against one version (the cases as they were when it started)."""

    version = models.ForeignKey(PromptVersion, on_delete=models.CASCADE, related_name="test_runs")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=8, choices=TestRunStatus.choices, default=TestRunStatus.QUEUED)
    error = models.TextField(blank=True, help_text="why the run could not complete (status error)")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0)
    passed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal(0))

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["version", "-created_at"], name="prompt_test_run_version_time")]

    def __str__(self) -> str:
        return f"test run {self.pk} of {self.version}"

    @property
    def is_finished(self) -> bool:
        return self.status in (TestRunStatus.PASSED, TestRunStatus.FAILED, TestRunStatus.ERROR)

    @property
    def is_stale(self) -> bool:
        """Unfinished past the task's time limit (plus a minute of queueing): no worker is running it any more."""
        limit = timedelta(seconds=TEST_RUN_TIME_LIMIT_SECONDS + 60)
        return not self.is_finished and timezone.now() - self.created_at > limit


class PromptTestResult(models.Model):
    """The outcome of one case in a run: the output, whether it passed, why not, and what the call cost."""

    run = models.ForeignKey(PromptTestRun, on_delete=models.CASCADE, related_name="results")
    # Kept when the case is later deleted: the run's history stays as it was.
    case = models.ForeignKey(PromptTestCase, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    case_name = models.CharField(max_length=100)
    passed = models.BooleanField()
    failures = models.JSONField(default=list, blank=True, help_text="one sentence per failed check")
    output = models.TextField(blank=True)
    error = models.TextField(blank=True, help_text="why the call got no answer")
    request_id = models.CharField(max_length=64, blank=True)
    latency_ms = models.FloatField(default=0)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal(0))

    class Meta:
        ordering = ["run", "case_name", "id"]

    def __str__(self) -> str:
        return f"{self.case_name}: {'passed' if self.passed else 'failed'}"
