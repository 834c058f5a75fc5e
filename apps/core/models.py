from __future__ import annotations

from django.conf import settings
from django.db import models


class TimeStampedModel(models.Model):
    """Abstract base: creation and last-change times."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class AppendOnlyError(Exception):
    pass


class AuditEventQuerySet(models.QuerySet):
    """Bulk writes would bypass AuditEvent.save()/delete(), so they are refused too."""

    def update(self, **kwargs):
        raise AppendOnlyError("audit events cannot be changed")

    def delete(self):
        raise AppendOnlyError("audit events cannot be deleted")


class AuditEvent(models.Model):
    """One change a person (or a script) made: who, when, to what, what changed, from where. Append-only."""

    class Source(models.TextChoices):
        UI = "ui", "Web UI"
        API = "api", "REST API"
        ADMIN = "admin", "Django admin"
        CLI = "cli", "Command line"
        SYSTEM = "system", "System"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The tenant may be deleted later; the trail must survive it, so no database-level constraint.
    tenant = models.ForeignKey(
        "tenants.Tenant", null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False
    )
    actor_label = models.CharField(max_length=150, help_text="Username or token prefix at the time of the change")
    source = models.CharField(max_length=10, choices=Source.choices)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=64, help_text="e.g. api_key.revoke")
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    changes = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"]),
            models.Index(fields=["object_type", "object_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise AppendOnlyError("audit events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events cannot be deleted")


class ConfigVersion(models.Model):
    """A counter bumped whenever data-plane configuration changes (keys, routes, services, policies), in the
    transaction of the change (apps.core.services.config_version_bump).

    Each gateway process polls it (one cheap query per interval, never per request), is told of each new
    version over Redis when configured, and rebuilds its in-memory snapshot when it moved."""

    name = models.CharField(max_length=32, primary_key=True)
    version = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class Notification(models.Model):
    """An in-app message to one person (subscription decisions, alerts); read in the notification list."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    created_at = models.DateTimeField(auto_now_add=True)
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=300, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return f"{self.user}: {self.subject}"
