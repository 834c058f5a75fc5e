from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import authentication, exceptions

from apps.access.models import PERSONAL_TOKEN_KIND
from apps.access.selectors import personal_token_authenticate


class PersonalTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer gwp_…`: a person's token for scripts and CI; acts with the person's roles."""

    keyword = "bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace").split()
        if len(header) != 2 or header[0].lower() != self.keyword:
            return None
        if not header[1].startswith(f"{PERSONAL_TOKEN_KIND}_"):
            return None
        token = personal_token_authenticate(plaintext=header[1])
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    """Documents the token in the OpenAPI schema (Swagger's "Authorize" button); registered on import."""

    target_class = PersonalTokenAuthentication
    name = "personalToken"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")  # noqa: S106
