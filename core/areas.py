"""The areas of the REST API.

Every operation belongs to one (``groups``, ``members``, ``funnel`` …): it is the operation's tag
in the schema, and the first half of the scope an integration key needs to call it. Kept apart
from ``core.api``: DRF's settings import the authentication classes that need it.
"""

from __future__ import annotations

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

# The area of each app's operations, unless a view names its own (``api_area``).
AREA_OF_APP = {
    "subgroups": "groups",
    "members": "members",
    "content": "content",
    "analytics": "analytics",
    "recall": "recall",
    "outbox": "outbox",
    "engagement": "growth",
    "fission": "growth",
    "programme": "growth",
    "grouping": "growth",
    "lifecycle": "growth",
}
# Areas whose operations integration keys may call, with a scope ``<area>:read`` or ``:write``.
KEY_AREAS = frozenset(
    {"groups", "members", "funnel", "content", "moderation", "events", "analytics", "recall", "outbox", "growth"}
)


def api_area(view) -> str:
    return getattr(view, "api_area", None) or AREA_OF_APP.get(type(view).__module__.split(".")[0], "")


def required_scope(view, request) -> str | None:
    """The scope an integration key needs for this request, or None when keys may not call it.
    A view may name the scope of an action or method (``api_scopes = {"ack": "outbox:ack"}``)."""
    action = getattr(view, "action", None) or request.method.lower()
    explicit = getattr(view, "api_scopes", {})
    if action in explicit:
        return explicit[action]
    area = api_area(view)
    if area not in KEY_AREAS:
        return None
    return f"{area}:{'read' if request.method in SAFE_METHODS else 'write'}"
