from django.http import HttpRequest

from subgroups import selectors


def communities(request: HttpRequest) -> dict:
    """The community switcher's choices and the community the page is about."""
    user = getattr(request, "user", None)
    visible = selectors.communities_for_user(user) if user is not None and user.is_authenticated else []
    return {"user_communities": visible, "current_community": getattr(request, "community", None)}
