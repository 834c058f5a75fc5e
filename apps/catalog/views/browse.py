"""The catalog's pages for everyone: browse the services the current tenant may see, read one's documentation and
its OpenAPI document (as a page, or as JSON to download)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from apps.catalog import docs, openapi, selectors
from apps.catalog.forms import CatalogFilterForm
from apps.catalog.models import Service, ServiceKind
from apps.catalog.services import service_manage_allowed
from apps.tenants.web import tenant_required

PAGE_SIZE = 25


@tenant_required()
@require_GET
def service_list(request: HttpRequest) -> HttpResponse:
    form = CatalogFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    services = selectors.service_list_visible_to(tenant=request.tenant, filters=filters)
    page = Paginator(services, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "form": form,
        "tags": selectors.tag_list_visible_to(tenant=request.tenant),
        "can_manage": service_manage_allowed(membership=request.membership, tenant=request.tenant),
    }
    return render(request, "catalog/service_list.html", context)


@tenant_required()
@require_GET
def service_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A service's documentation. Its examples call what its OpenAPI document describes: a prompt API's /invoke,
    a model API's /v1/chat/completions with model=<slug>."""
    service = selectors.service_get_visible(tenant=request.tenant, slug=slug)
    document = openapi.service_openapi(service, server_url=request.build_absolute_uri("/").rstrip("/"))
    url, body = docs.call_example(document)
    result = docs.CHAT_RESULT if service.kind == ServiceKind.MODEL else docs.INVOKE_RESULT
    is_own = service.tenant_id == request.tenant.pk
    context = {
        "service": service,
        "description_html": mark_safe(docs.markdown_html(service.description)),  # noqa: S308 - sanitized by nh3
        "input_fields": docs.input_fields(service.input_schema),
        "output_schema": json.dumps(service.output_schema, indent=2, ensure_ascii=False),
        "call_path": next(iter(document["paths"])),
        "snippets": docs.snippets(url=url, body=body, result=result),
        "openapi_page_url": reverse("catalog:service-openapi", args=[service.slug]),
        "openapi_api_url": reverse("catalog-api:catalog-service-openapi", args=[service.slug]),
        "is_own": is_own,
        "can_manage": is_own and service_manage_allowed(membership=request.membership, tenant=request.tenant),
    }
    return render(request, "catalog/service_detail.html", context)


# The OpenAPI pages answer any signed-in person whose tenants may see the service, whichever tenant they are
# working in: a link to them works for everyone it was shared with who may read it.
def _document(request: HttpRequest, slug: str) -> tuple[Service, dict[str, Any]]:
    service = selectors.service_get_visible_to_person(user=request.user, slug=slug)
    return service, openapi.service_openapi(service, server_url=request.build_absolute_uri("/").rstrip("/"))


@login_required
@require_GET
def service_openapi(request: HttpRequest, slug: str) -> HttpResponse:
    service, document = _document(request, slug)
    context = {
        "service": service,
        "document": document,
        "operations": docs.openapi_operations(document),
        "auth_html": docs.inline_html(document["components"]["securitySchemes"]["apiKey"]["description"]),
        "json_url": reverse("catalog:service-openapi-json", args=[slug]),
    }
    return render(request, "catalog/service_openapi.html", context)


@login_required
@require_GET
def service_openapi_json(request: HttpRequest, slug: str) -> JsonResponse:
    _, document = _document(request, slug)
    response = JsonResponse(document, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="{slug}.openapi.json"'
    return response
