"""The workbench pages' side of apps.prompts.permissions: the prompt a page acts on, once the person may act on it,
and what the pages show (their edit and publish buttons appear exactly when the permission functions allow)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from apps.prompts import selectors
from apps.prompts.models import PromptTemplate
from apps.prompts.permissions import may_edit_prompt, may_publish_prompt, prompt_refusal


def prompt_for(request: HttpRequest, slug: str, *, publish: bool = False) -> PromptTemplate:
    """The prompt of one of the current tenant's services (404 otherwise) when the person may edit it (`publish`:
    decide what serves traffic); else the 403 page naming the role or the right to ask for."""
    template = selectors.prompt_template_get(tenant=request.tenant, service_slug=slug)
    allowed = may_publish_prompt if publish else may_edit_prompt
    if not allowed(membership=request.membership, service=template.service):
        raise PermissionDenied(prompt_refusal(membership=request.membership, service=template.service, publish=publish))
    return template


def prompt_rights(request: HttpRequest, template: PromptTemplate) -> dict[str, bool]:
    """`can_edit` and `can_publish` for a page's template context."""
    service = template.service
    return {
        "can_edit": may_edit_prompt(membership=request.membership, service=service),
        "can_publish": may_publish_prompt(membership=request.membership, service=service),
    }
