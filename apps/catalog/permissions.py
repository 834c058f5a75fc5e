"""Who may read the catalog API: people, and apps whose API key has the `catalog` scope."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

# = apps.access.models.ApiKeyScope.CATALOG (the access app sits above the catalog: the catalog does not import it).
CATALOG_SCOPE = "catalog"


class PersonOrCatalogApp(BasePermission):
    """A signed-in person (session or personal token), or an app key with the `catalog` scope. Without any
    credential the answer is 401; a key without the scope gets 403."""

    message = "This API key does not have the `catalog` scope."

    def has_permission(self, request, view) -> bool:
        if request.user and request.user.is_authenticated:
            return True
        return CATALOG_SCOPE in getattr(request.auth, "scopes", ())
