from __future__ import annotations

from django.conf import settings
from django.db import models

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
