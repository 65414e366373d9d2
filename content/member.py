"""The member's side of content: post in your groups, and follow what happened to your posts."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from content.forms import PostForm
from content.models import Post, PostSource
from content.services import posts
from core.errors import ApplicationError
from core.forms import add_application_error
from members.models import Member, MembershipStatus
from subgroups.models import Group, GroupStatus


@login_required
@require_http_methods(["GET", "POST"])
def my_posts(request):
    """Every post of the logged-in person, in any community they are a member of, and a form to
    post in their groups."""
    members = Member.objects.filter(user=request.user)
    groups = (
        Group.objects.filter(memberships__member__in=members, memberships__status=MembershipStatus.ACTIVE)
        .exclude(status=GroupStatus.ARCHIVED)
        .distinct()
        .order_by("community_id", "tree_id", "lft")
    )
    form = PostForm(request.POST or None, groups=groups, staff=False)
    if request.method == "POST" and form.is_valid():
        group = form.cleaned_data["group"]
        author = members.get(community_id=group.community_id)
        try:
            post = posts.post_submit(
                group=group,
                author=author,
                kind=form.cleaned_data["kind"],
                title=form.cleaned_data["title"],
                body=form.cleaned_data["body"],
                source=PostSource.MEMBER,
            )
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            messages.success(
                request, _("“%(title)s”: %(status)s.") % {"title": post.title, "status": post.get_status_display()}
            )
            return redirect("content:my_posts")
    mine = Post.objects.filter(author__in=members).select_related("group").prefetch_related("steps")
    return render(
        request,
        "content/my_posts.html",
        {"posts": mine.order_by("-created_at")[:100], "form": form, "has_groups": groups.exists()},
        status=400 if form.errors else 200,
    )


@require_GET
def post_status(request, token: str):
    """What happened to a post, for an author who sent it through a bot."""
    post = get_object_or_404(Post.objects.select_related("group"), status_token=token)
    return render(request, "content/post_status.html", {"post": post, "steps": post.steps.all()})
