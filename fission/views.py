"""Placeholder pages while the app is being built."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from subgroups.views import community_page


@require_GET
@community_page
def placeholder(request: HttpRequest, community) -> HttpResponse:
    return render(request, "engagement/_placeholder.html", {"community": community})
