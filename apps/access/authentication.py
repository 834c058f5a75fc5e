from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import authentication, exceptions

from apps.access.models import API_KEY_KIND, PERSONAL_TOKEN_KIND
from apps.access.selectors import api_key_authenticate, personal_token_authenticate


def bearer_token(request, kind: str) -> str | None:
    """The `Authorization: Bearer <kind>_…` token of the request, or None when it carries no token of that kind."""
    header = authentication.get_authorization_header(request).decode(errors="replace").split()
    if len(header) != 2 or header[0].lower() != "bearer" or not header[1].startswith(f"{kind}_"):
        return None
    return header[1]


class PersonalTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer gwp_…`: a person's token for scripts and CI; acts with the person's roles."""

    def authenticate(self, request):
        plaintext = bearer_token(request, PERSONAL_TOKEN_KIND)
        if plaintext is None:
            return None
        token = personal_token_authenticate(plaintext=plaintext)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer gwk_…`: an app's API key, on the few management endpoints apps read (the catalog).

    request.user stays anonymous (an app is no person and has no role); request.auth is the ApiKey, whose tenant and
    scopes the view checks."""

    def authenticate(self, request):
        plaintext = bearer_token(request, API_KEY_KIND)
        if plaintext is None:
            return None
        key = api_key_authenticate(plaintext=plaintext)
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API key.")
        return AnonymousUser(), key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class AppKeyRefusal(authentication.BaseAuthentication):
    """Last of the management API's authentication classes: an app key (`gwk_…`) where only people's credentials
    count gets a 401 that says what app keys are for, rather than "credentials were not provided"."""

    def authenticate(self, request):
        if bearer_token(request, API_KEY_KIND) is not None:
            raise exceptions.AuthenticationFailed(
                "App keys (gwk_…) are for the gateway: /v1 and the invoke endpoint of services (and the catalog, "
                "GET /api/v1/services/). The management API takes a personal access token (gwp_…) or a session."
            )
        return

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    """Documents the token in the OpenAPI schema (Swagger's "Authorize" button); registered on import."""

    target_class = PersonalTokenAuthentication
    name = "personalToken"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")  # noqa: S106


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        scheme = build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")  # noqa: S106
        return {**scheme, "description": "An app's API key (`gwk_…`) with the `catalog` scope."}


class AppKeyRefusalScheme(OpenApiAuthenticationExtension):
    """AppKeyRefusal authenticates nobody: nothing to document (and no warning from drf-spectacular)."""

    target_class = AppKeyRefusal
    name: list[str] = []

    def get_security_requirement(self, auto_schema):
        return None

    def get_security_definition(self, auto_schema):
        return []
