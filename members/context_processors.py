from django.http import HttpRequest

from members import selectors


def funnel(request: HttpRequest) -> dict:
    """The sidebar's count of applications waiting for this user."""
    community = getattr(request, "community", None)
    user = getattr(request, "user", None)
    if community is None or user is None or not user.is_authenticated:
        return {}
    # A callable: the template only counts when it draws the sidebar.
    return {"pending_applications": lambda: selectors.pending_count(user, community=community)}
