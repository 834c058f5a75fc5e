"""The catalog's web pages: browse the services the current tenant may see, and read one's documentation."""

from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from apps.catalog import docs, selectors
from apps.catalog.forms import CatalogFilterForm
from apps.catalog.openapi import invoke_path
from apps.tenants.web import tenant_required

PAGE_SIZE = 25


@tenant_required()
@require_GET
def service_list(request: HttpRequest) -> HttpResponse:
    form = CatalogFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    services = selectors.service_list_visible_to(tenant=request.tenant, filters=filters)
    page = Paginator(services, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "form": form, "tags": selectors.tag_list_visible_to(tenant=request.tenant)}
    return render(request, "catalog/service_list.html", context)


@tenant_required()
@require_GET
def service_detail(request: HttpRequest, slug: str) -> HttpResponse:
    service = selectors.service_get_visible(tenant=request.tenant, slug=slug)
    body = docs.example_body(service.input_schema)
    context = {
        "service": service,
        "description_html": mark_safe(docs.markdown_html(service.description)),  # noqa: S308 - sanitized by nh3
        "input_fields": docs.input_fields(service.input_schema),
        "output_schema": json.dumps(service.output_schema, indent=2, ensure_ascii=False),
        "snippets": docs.snippets(url=request.build_absolute_uri(invoke_path(service.slug)), body=body),
        "openapi_url": reverse("catalog-api:catalog-service-openapi", args=[service.slug]),
        "is_own": service.tenant_id == request.tenant.pk,
    }
    return render(request, "catalog/service_detail.html", context)
