from django.apps import AppConfig
from django.db.models.signals import post_save


class GitopsConfig(AppConfig):
    name = "apps.gitops"
    label = "gitops"
    verbose_name = "Definitions as code and GitLab sync"

    def ready(self) -> None:
        from apps.core.edits import definition_edit_hook_set
        from apps.core.models import AuditEvent
        from apps.gitops.services.sync_trigger import on_audit_event
        from apps.gitops.web import proposed_in_gitops_mode

        post_save.connect(on_audit_event, sender=AuditEvent, dispatch_uid="gitops-sync-on-definition-change")
        definition_edit_hook_set(proposed_in_gitops_mode)  # web edits of definitions: merge requests in GitOps mode
