"""Web edits of definitions (services, plans, prompts, routes): a decorator for their views, and the one hook an
app above them may put around those edits (apps.gitops, in GitOps mode, turns them into merge requests). The apps
below gitops may not import it, so it installs its hook when it is ready."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse

Hook = Callable[[HttpRequest, Callable[[], HttpResponse]], HttpResponse]
_hooks: list[Hook] = []


def definition_edit_hook_set(hook: Hook) -> None:
    """Run `hook(request, view)` around every definition edit instead of `view()` (installed once, at start-up)."""
    _hooks[:] = [hook]


def definition_edit(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Marks a view that edits definitions; put it below tenant_required (the hook reads request.tenant)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not _hooks:
            return view(request, *args, **kwargs)
        return _hooks[0](request, lambda: view(request, *args, **kwargs))

    return wrapped
