from __future__ import annotations

from django.db import models

from apps.core.crypto import decrypt_text, encrypt_text
from apps.tenants.models import TenantOwnedModel


class GitLabConnection(TenantOwnedModel):
    """A tenant's GitLab project that mirrors its definitions, one per tenant. The token and the webhook secret
    are encrypted at rest and never displayed, logged or exported."""

    gitlab_url = models.URLField(max_length=300, help_text="e.g. https://gitlab.com or a self-managed instance")
    project = models.CharField(max_length=255, help_text="the project's path (group/name) or numeric id")
    branch = models.CharField(max_length=255, default="main")
    # The folder of the repository the portal owns: a sync writes and deletes definition files there only, so a
    # README or a .gitlab-ci.yml beside it is never touched.
    directory = models.CharField(max_length=255, default="definitions", blank=True)
    # Fernet tokens: read them with token() and webhook_secret(), set them with the setters.
    token_encrypted = models.TextField(editable=False)
    webhook_secret_encrypted = models.TextField(blank=True, editable=False)
    review_mode = models.BooleanField(
        default=False, help_text="push a branch and open a merge request instead of committing to the branch"
    )
    gitops_mode = models.BooleanField(
        default=False,
        help_text="edits of services, prompts, routes and plans in the web UI become merge requests instead of writes",
    )
    last_synced_commit = models.CharField(max_length=64, blank=True)
    enabled = models.BooleanField(default=True)
    # The last drift check (services/drift.py, a Celery task): [{"action", "path"}] of the files that differ between
    # the database and the branch, read by the pages' banner so that no page view calls GitLab.
    drift = models.JSONField(default=list, blank=True, editable=False)
    drift_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    drift_error = models.TextField(blank=True, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="gitlab_connection_one_per_tenant")]

    def __str__(self) -> str:
        return f"{self.project}@{self.branch} on {self.gitlab_url}"

    def set_token(self, plaintext: str) -> None:
        self.token_encrypted = encrypt_text(plaintext)

    def token(self) -> str:
        return decrypt_text(self.token_encrypted)

    def set_webhook_secret(self, plaintext: str) -> None:
        self.webhook_secret_encrypted = encrypt_text(plaintext) if plaintext else ""

    def webhook_secret(self) -> str:
        return decrypt_text(self.webhook_secret_encrypted)

    @property
    def has_webhook_secret(self) -> bool:
        return bool(self.webhook_secret_encrypted)


class GitRemote(TenantOwnedModel):
    """A plain git remote that mirrors a tenant's definitions, for teams on another forge: pushed with the git CLI
    (SSH, HTTPS or a path), with the credentials of the portal's environment (SSH keys, a credential helper). Set by
    the operator on the command line only: a remote may be a path on the portal's own machine."""

    url = models.CharField(max_length=500, help_text="ssh://…, git@host:group/repo.git, https://… or a path")
    branch = models.CharField(max_length=255, default="main")
    directory = models.CharField(max_length=255, default="definitions", blank=True)
    last_synced_commit = models.CharField(max_length=64, blank=True)
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="git_remote_one_per_tenant")]

    def __str__(self) -> str:
        return f"{self.url}@{self.branch}"


class SyncRun(TenantOwnedModel):
    """One sync between a tenant and its GitLab project, in either direction: what started it, how it ended,
    the commit it made or applied, and the error (never a secret) when it failed."""

    class Direction(models.TextChoices):
        OUT = "out", "Portal → GitLab"
        IN = "in", "GitLab → portal"

    class Trigger(models.TextChoices):
        SAVE = "save", "Definition saved"
        MANUAL = "manual", "On demand"
        SCHEDULE = "schedule", "Schedule"
        WEBHOOK = "webhook", "Push event"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        UNCHANGED = "unchanged", "Nothing changed"
        AWAITING_REVIEW = "awaiting_review", "Awaiting review"
        FAILED = "failed", "Failed"

    direction = models.CharField(max_length=8, choices=Direction.choices)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    commit_sha = models.CharField(max_length=64, blank=True)
    commit_url = models.URLField(max_length=500, blank=True)
    merge_request_url = models.URLField(max_length=500, blank=True)
    files_changed = models.JSONField(default=list, blank=True)
    # Inbound in review mode: the plan an admin reads before applying the commit.
    plan = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-started_at"], name="syncrun_tenant_started")]
        constraints = [
            models.CheckConstraint(condition=models.Q(direction__in=["out", "in"]), name="syncrun_direction_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.started_at:%Y-%m-%d %H:%M:%S} {self.status}"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class SecretReference(TenantOwnedModel):
    """The `env:` reference a definition file gave for one secret of a provider (its api_key, or the value of a
    credential-carrying header), so that the next export writes the same reference back instead of
    `credential:<slug>`. Never the value: a keyed fingerprint of it tells whether the stored secret is still the
    one the reference was applied with (changed in the portal since, the reference no longer holds)."""

    provider = models.ForeignKey(
        "providers.Provider", on_delete=models.CASCADE, related_name="gitops_secret_references"
    )
    field = models.CharField(max_length=200, help_text="api_key or options.headers.<name>")
    reference = models.CharField(max_length=200, help_text="env:VARIABLE")
    fingerprint = models.CharField(max_length=64, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "field"], name="secret_reference_one_per_field"),
        ]

    def __str__(self) -> str:
        return f"{self.field} = {self.reference}"
