"""Where apps above providers take part in its writes without providers importing them (the layers allow only
downward imports). Each registers its callable once, in its AppConfig.ready():

- a finder of what names a route (the catalog's services and plans, the access app's limit sets), asked before the
  route is deleted: a route deleted while still named would silently turn a plan's allowed model or over-budget
  route, or a semantic cache's embedding route, into refusals."""

from __future__ import annotations

from collections.abc import Callable

from apps.providers.models import Route

RouteReferenceFinder = Callable[[Route], list[str]]  # what names the route, each as its page names it

_finders: list[RouteReferenceFinder] = []


def route_reference_finder_register(finder: RouteReferenceFinder) -> None:
    if finder not in _finders:
        _finders.append(finder)


def route_references(route: Route) -> list[str]:
    return [reference for finder in _finders for reference in finder(route)]
