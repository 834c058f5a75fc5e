"""Small helpers shared by the web views of every app (htmx-aware responses and flash messages)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url

from apps.core.forms import ServiceForm


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def flash_outcome(request: HttpRequest, form: ServiceForm, *, success: str | None = None) -> None:
    """The outcome of an action as flash messages, for the page a non-htmx request is redirected to."""
    for text in form.error_texts():
        messages.error(request, text)
    if success and not form.errors:
        messages.success(request, success)


def redirect_after_action(request: HttpRequest, to: str) -> HttpResponse:
    """A redirect that htmx follows as a full page load (a plain 302 would be swapped into the fragment)."""
    url = resolve_url(to)
    if is_htmx(request):
        return HttpResponse(headers={"HX-Redirect": url})
    return redirect(url)
