"""The GitLab page's form: the connection of the current tenant. The token and the webhook secret are write-only."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.core.forms import ServiceForm


class GitLabConnectionForm(ServiceForm):
    gitlab_url = forms.CharField(label="GitLab URL", max_length=300, help_text="e.g. https://gitlab.com")
    project = forms.CharField(max_length=255, help_text="The project's path (group/name) or its numeric id.")
    branch = forms.CharField(max_length=255, initial="main")
    directory = forms.CharField(
        label="Folder",
        max_length=255,
        required=False,
        initial="definitions",
        help_text="The repository folder the portal writes; files beside it are never touched.",
    )
    token = forms.CharField(
        label="Access token",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="A project or personal access token with the api scope. Stored encrypted and never shown again; "
        "leave empty to keep the stored one.",
    )
    webhook_secret = forms.CharField(
        label="Webhook secret",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="The secret token of the GitLab webhook. Leave empty to keep the stored one.",
    )
    review_mode = forms.BooleanField(
        label="Review changes in merge requests",
        required=False,
        help_text="Each sync pushes a branch and opens a merge request; pushes to the branch wait for an admin here.",
    )
    gitops_mode = forms.BooleanField(
        label="GitOps mode",
        required=False,
        help_text="Edits of services, plans, prompts and routes made on these pages open a merge request instead of "
        "saving; merging it applies them.",
    )
    enabled = forms.BooleanField(label="Sync enabled", required=False, initial=True)

    def service_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["webhook_secret"] = data["webhook_secret"] or None  # empty: keep the stored secret
        return data
