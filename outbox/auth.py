"""Integration keys in the REST API: ``Authorization: Bearer cnp_…``.

The authentication class turns a key into its integration's service account; the permission
class lets the request through only if the key holds the scope the operation needs. Both are in
``REST_FRAMEWORK``'s defaults, so every API view has them; a view that is not open to keys at
all (integrations, keys themselves) says so with ``api_area = "integrations"``.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission

from core.areas import required_scope
from outbox.keys import KEY_PREFIX, key_authenticate


class KeyInvalid(exceptions.AuthenticationFailed):
    default_detail = _("This integration key is unknown, revoked or expired.")
    default_code = "key_invalid"


class IntegrationKeyAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if len(header) != 2 or header[0].lower() != self.keyword.lower().encode():
            return None
        try:
            secret = header[1].decode()
        except UnicodeError:
            raise KeyInvalid() from None
        if not secret.startswith(KEY_PREFIX):
            return None  # someone else's bearer token
        key = key_authenticate(secret)
        if key is None:
            raise KeyInvalid()
        user = key.integration.user
        user.canopy_key = key
        return user, key

    def authenticate_header(self, request) -> str:
        return self.keyword


class MissingScope(exceptions.PermissionDenied):
    default_code = "missing_scope"


class KeyScopes(BasePermission):
    """A request made with a key needs the operation's scope; other requests pass."""

    def has_permission(self, request, view) -> bool:
        key = getattr(request.user, "canopy_key", None)
        if key is None:
            return True
        scope = required_scope(view, request)
        if scope is None:
            raise MissingScope(_("Integration keys cannot use this operation; sign in as a person."))
        if scope not in key.scopes:
            raise MissingScope(_("This key lacks the %(scope)s scope that this operation needs.") % {"scope": scope})
        return True


class IntegrationKeyScheme(OpenApiAuthenticationExtension):
    """The schema's description of the key: an HTTP bearer scheme."""

    target_class = IntegrationKeyAuthentication
    name = "integrationKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "cnp_<prefix>_<secret>",
            "description": "An integration key, created by a community owner on the bots page or with "
            "POST /api/v1/integration-keys/. It acts in one community, on the operations its scopes name.",
        }
