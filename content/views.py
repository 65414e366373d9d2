"""Dashboard pages for content: the two review queues, posts, flags, the word list, digests,
the calendar, auto-replies, welcome messages and the integrations that deliver the outbox."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from content import selectors
from content.forms import (
    AllowedForm,
    AutoReplyForm,
    DigestForm,
    ImportForm,
    IntegrationForm,
    IntegrationKeyForm,
    PostForm,
    ReviewNoteForm,
    ScanForm,
    ScheduleForm,
    WelcomeForm,
    WordForm,
)
from content.models import (
    MIX_TARGET,
    AllowedTerm,
    AutoReply,
    ContentSettings,
    LexiconEntry,
    MemberFlag,
    ModerationFlag,
    PostSource,
    PostStatus,
    Schedule,
    WordAction,
    WordCategory,
)
from content.services import autoreply, calendar, digests, lexicon, moderation, posts
from core.errors import ApplicationError
from core.forms import add_application_error
from members.permissions import can, can_final_review, groups_owned
from members.services.funnel import welcome_text
from outbox import keys as integration_keys
from outbox.models import Integration, IntegrationKey, OutboundMessage
from outbox.services import (
    failing_integrations,
    integration_create,
    integration_delete,
    integration_enable_webhook,
    integration_resend_failed,
    integration_rotate_secret,
    message_resend,
)
from subgroups import selectors as tree
from subgroups import services as tree_services
from subgroups.access import Capability
from subgroups.models import Community, Group
from subgroups.rules import clean_welcome_template
from subgroups.views import _back_to, community_page


def _posted_id(request: HttpRequest) -> int:
    """The ``id`` a form posts, as a number; anything else is a missing object (404)."""
    value = request.POST.get("id", "")
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise Http404
    return int(value)


def _require(request: HttpRequest, capability: str, group: Group) -> None:
    if not can(request.user, capability, group):
        raise PermissionDenied


def _require_hub(request: HttpRequest, community: Community, capability: str = Capability.MANAGE_CONTENT) -> None:
    if community.hub_id is None or not can(request.user, capability, community.hub):
        raise PermissionDenied


# --- Review ---------------------------------------------------------------------------------


def _queue_context(request: HttpRequest, community: Community) -> dict:
    return {
        "community": community,
        "first": selectors.first_review_queue(request.user, community=community),
        "final": selectors.final_review_queue(request.user, community=community),
        "is_owner": groups_owned(request.user).filter(community=community).exists(),
    }


@require_GET
@community_page
def review(request: HttpRequest, community: Community) -> HttpResponse:
    return render(request, "content/review.html", _queue_context(request, community))


def _after_review(request: HttpRequest, community: Community, post) -> HttpResponse:
    if request.htmx:
        post.refresh_from_db()
        return render(
            request,
            "content/_review_row.html",
            {"community": community, "post": post, "can_final": can_final_review(request.user, post.group)},
        )
    return redirect(_back_to(request, reverse("content:review", args=[community.slug])))


@require_POST
@community_page
def first_review(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    post = selectors.post_for_user(request.user, community=community, pk=pk)
    _require(request, Capability.MANAGE_CONTENT, post.group)
    form = ReviewNoteForm(request.POST)
    form.is_valid()
    try:
        posts.post_first_review(
            post=post,
            by=request.user,
            approve=request.POST.get("decision") == "approve",
            note=form.cleaned_data.get("note", ""),
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        if request.htmx:
            return render(
                request,
                "content/_review_row.html",
                {
                    "community": community,
                    "post": post,
                    "error": error.message,
                    "can_final": can_final_review(request.user, post.group),
                },
                status=400,
            )
    return _after_review(request, community, post)


@require_POST
@community_page
def final_review(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    post = selectors.post_for_user(request.user, community=community, pk=pk)
    if not can_final_review(request.user, post.group):
        raise PermissionDenied
    form = ReviewNoteForm(request.POST)
    form.is_valid()
    try:
        posts.post_final_review(
            post=post,
            by=request.user,
            decision=request.POST.get("decision", ""),
            note=form.cleaned_data.get("note", ""),
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        if request.htmx:
            return render(
                request,
                "content/_review_row.html",
                {
                    "community": community,
                    "post": post,
                    "error": error.message,
                    "can_final": can_final_review(request.user, post.group),
                },
                status=400,
            )
    return _after_review(request, community, post)


# --- Posts ----------------------------------------------------------------------------------


@require_GET
@community_page
def post_list(request: HttpRequest, community: Community) -> HttpResponse:
    status = request.GET.get("status", "")
    status = status if status in PostStatus.values else ""
    page = Paginator(selectors.posts_for_user(request.user, community=community, status=status), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "content/post_list.html",
        {"community": community, "page": page, "status": status, "statuses": PostStatus.choices},
    )


@require_http_methods(["GET", "POST"])
@community_page
def post_new(request: HttpRequest, community: Community) -> HttpResponse:
    groups = selectors.content_groups(request.user, community)
    if not groups.exists():
        raise PermissionDenied
    form = PostForm(request.POST or None, groups=groups, staff=True)
    if request.method == "POST" and form.is_valid():
        try:
            post = posts.post_submit(
                group=form.cleaned_data["group"],
                author=None,
                kind=form.cleaned_data["kind"],
                title=form.cleaned_data["title"],
                body=form.cleaned_data["body"],
                source=PostSource.STAFF,
                by=request.user,
            )
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            messages.success(
                request, _("“%(title)s”: %(status)s.") % {"title": post.title, "status": post.get_status_display()}
            )
            return redirect("content:post", slug=community.slug, pk=post.pk)
    return render(
        request, "content/post_new.html", {"community": community, "form": form}, status=400 if form.errors else 200
    )


@require_http_methods(["GET", "POST"])
@community_page
def post_detail(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    post = selectors.post_for_user(request.user, community=community, pk=pk)
    if request.method == "POST":
        if not can_final_review(request.user, post.group):
            raise PermissionDenied
        try:
            posts.post_feature(post=post, featured=request.POST.get("featured") == "1", by=request.user)
        except ApplicationError as error:
            messages.error(request, error.message)
        return redirect("content:post", slug=community.slug, pk=post.pk)
    return render(
        request,
        "content/post_detail.html",
        {
            "community": community,
            "post": post,
            "steps": post.steps.select_related("by"),
            "can_first": post.status == PostStatus.FIRST_REVIEW
            and can(request.user, Capability.MANAGE_CONTENT, post.group),
            "can_final": can_final_review(request.user, post.group),
        },
    )


# --- Flags ----------------------------------------------------------------------------------


@require_GET
@community_page
def flags(request: HttpRequest, community: Community) -> HttpResponse:
    chat, member_flags = selectors.open_flags(request.user, community=community)
    return render(request, "content/flags.html", {"community": community, "chat": chat, "member_flags": member_flags})


@require_POST
@community_page
def flag_resolve(request: HttpRequest, community: Community, kind: str, pk: int) -> HttpResponse:
    model = {"chat": ModerationFlag, "member": MemberFlag}.get(kind)
    flag = model.objects.filter(pk=pk, group__community=community).select_related("group").first() if model else None
    if flag is None or not can(request.user, Capability.VIEW, flag.group):
        raise Http404
    _require(request, Capability.MANAGE_CONTENT, flag.group)
    try:
        moderation.flag_resolve(flag=flag, by=request.user, note=request.POST.get("note", ""))
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Flag resolved."))
    return redirect("content:flags", slug=community.slug)


# --- Word list ------------------------------------------------------------------------------


def _words_page(request: HttpRequest, community: Community, **forms) -> HttpResponse:
    words = LexiconEntry.objects.filter(community=community).order_by("category", "word")
    return render(
        request,
        "content/words.html",
        {
            "community": community,
            "lexicon": lexicon.lexicon_for(community),
            "words": words,
            "allowed": AllowedTerm.objects.filter(community=community),
            "shipped": lexicon.default_entries(),
            "word_form": forms.get("word_form") or WordForm(prefix="word"),
            "allowed_form": forms.get("allowed_form") or AllowedForm(),
            "import_form": forms.get("import_form") or ImportForm(),
            "scan_form": ScanForm(),
            "can_manage": can(request.user, Capability.MANAGE_CONTENT, community.hub),
        },
        status=400 if forms else 200,
    )


@require_http_methods(["GET", "POST"])
@community_page
def words(request: HttpRequest, community: Community) -> HttpResponse:
    if not tree.user_can(request.user, Capability.VIEW, community.hub):
        raise Http404
    if request.method == "GET":
        return _words_page(request, community)
    _require_hub(request, community)
    action = request.POST.get("action")
    try:
        if action == "word":
            form = WordForm(request.POST, prefix="word")
            if not form.is_valid():
                return _words_page(request, community, word_form=form)
            lexicon.word_add(community=community, **form.cleaned_data)
        elif action == "allowed":
            form = AllowedForm(request.POST)
            if not form.is_valid():
                return _words_page(request, community, allowed_form=form)
            lexicon.allowed_add(community=community, term=form.cleaned_data["term"])
        elif action == "remove-word":
            entry = LexiconEntry.objects.filter(community=community, pk=_posted_id(request)).first()
            if entry:
                lexicon.word_remove(entry=entry)
        elif action == "remove-allowed":
            allowed = AllowedTerm.objects.filter(community=community, pk=_posted_id(request)).first()
            if allowed:
                lexicon.allowed_remove(allowed=allowed)
        elif action == "defaults":
            lexicon.lexicon_update(community=community, use_default_list=request.POST.get("use_default_list") == "1")
        elif action == "import":
            form = ImportForm(request.POST, request.FILES)
            if not form.is_valid():
                return _words_page(request, community, import_form=form)
            upload = form.cleaned_data["file"]
            name = upload.name.lower()
            fmt = "csv" if name.endswith(".csv") else "txt"
            try:
                text = upload.read(2_000_001).decode("utf-8-sig")
            except UnicodeDecodeError:
                form.add_error("file", _("Save the file as UTF-8 text."))
                return _words_page(request, community, import_form=form)
            report = lexicon.words_import(
                community=community, text=text, fmt=fmt, category=form.cleaned_data["category"]
            )
            messages.success(
                request,
                _("Imported: %(added)d new, %(updated)d updated.") % {"added": report.added, "updated": report.updated},
            )
            for error in report.errors[:10]:
                messages.warning(request, error)
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect("content:words", slug=community.slug)


@require_GET
@community_page
def words_export(request: HttpRequest, community: Community) -> HttpResponse:
    if not tree.user_can(request.user, Capability.VIEW, community.hub):
        raise Http404
    fmt = "txt" if request.GET.get("format") == "txt" else "csv"
    response = HttpResponse(
        lexicon.words_export(community=community, fmt=fmt),
        content_type="text/csv; charset=utf-8" if fmt == "csv" else "text/plain; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{community.slug}-words.{fmt}"'
    return response


@require_POST
@community_page
def words_scan(request: HttpRequest, community: Community) -> HttpResponse:
    """Try a text against the lexicon (htmx): the hits, highlighted where they stand."""
    if not tree.user_can(request.user, Capability.VIEW, community.hub):
        raise Http404
    form = ScanForm(request.POST)
    text = form.cleaned_data["text"] if form.is_valid() else ""
    hits = lexicon.text_scan(community=community, text=text)
    pieces, cursor = [], 0
    for hit in hits:
        if hit.start < cursor:
            continue
        pieces.append(("", text[cursor : hit.start]))
        pieces.append((hit.action, text[hit.start : hit.end]))
        cursor = hit.end
    pieces.append(("", text[cursor:]))
    categories, actions = dict(WordCategory.choices), dict(WordAction.choices)
    labelled = [(hit, categories.get(hit.category, hit.category), actions.get(hit.action, hit.action)) for hit in hits]
    return render(request, "content/_scan_result.html", {"hits": labelled, "pieces": pieces})


# --- Digests --------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@community_page
def digest_list(request: HttpRequest, community: Community) -> HttpResponse:
    if request.method == "POST":
        _require_hub(request, community)
        today = timezone.localdate()
        start = today - timedelta(days=7)
        digest = digests.digest_draft(community=community, period_start=start, period_end=today + timedelta(days=1))
        if digest is None:
            messages.warning(request, _("No featured posts in the sub-groups this past week."))
        else:
            return redirect("content:digest", slug=community.slug, pk=digest.pk)
    return render(
        request,
        "content/digest_list.html",
        {"community": community, "digests": selectors.digests_for(request.user, community)},
    )


@require_http_methods(["GET", "POST"])
@community_page
def digest_detail(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    digest = selectors.digests_for(request.user, community).filter(pk=pk).first()
    if digest is None:
        raise Http404
    form = DigestForm(request.POST or None, initial={"title": digest.title, "body": digest.body})
    if request.method == "POST":
        _require_hub(request, community)
        if form.is_valid():
            try:
                digest = digests.digest_update(digest=digest, **form.cleaned_data)
                if request.POST.get("action") == "publish":
                    digests.digest_publish(digest=digest, by=request.user)
                    messages.success(request, _("Published to the hub."))
                else:
                    messages.success(request, _("Saved."))
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                return redirect("content:digest", slug=community.slug, pk=digest.pk)
    return render(
        request,
        "content/digest_detail.html",
        {
            "community": community,
            "digest": digest,
            "form": form,
            "preview": posts.render_markdown(digest.body),
            "can_manage": can(request.user, Capability.MANAGE_CONTENT, community.hub),
        },
        status=400 if form.errors else 200,
    )


# --- Calendar -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@community_page
def calendar_page(request: HttpRequest, community: Community) -> HttpResponse:
    groups = selectors.content_groups(request.user, community)
    form = ScheduleForm(request.POST or None, groups=groups)
    if request.method == "POST":
        action = request.POST.get("action")
        if action in ("pause", "resume", "delete"):
            schedule = Schedule.objects.filter(pk=_posted_id(request), group__in=groups).first()
            if schedule is None:
                raise Http404
            if action == "delete":
                calendar.schedule_delete(schedule=schedule)
            else:
                calendar.schedule_update(schedule=schedule, is_active=action == "resume")
            return redirect("content:calendar", slug=community.slug)
        if not groups.exists():
            raise PermissionDenied
        if form.is_valid():
            try:
                calendar.schedule_create(
                    group=form.cleaned_data["group"],
                    kind=form.cleaned_data["kind"],
                    title=form.cleaned_data["title"],
                    body=form.cleaned_data["body"],
                    weekdays=form.cleaned_data["weekdays"],
                    at=form.cleaned_data["time"],
                )
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                messages.success(request, _("Scheduled."))
                return redirect("content:calendar", slug=community.slug)
    schedules = selectors.schedules_for(request.user, community)
    slots = calendar.upcoming(community=community, schedules=schedules)
    weeks: dict = {}
    for slot in slots:
        weeks.setdefault(slot.when.date().isocalendar()[:2], []).append(slot)
    mix = calendar.content_mix(groups=selectors.visible_groups(request.user, community))
    return render(
        request,
        "content/calendar.html",
        {
            "community": community,
            "schedules": schedules,
            "weeks": list(weeks.values()),
            "form": form,
            "can_manage": groups.exists(),
            "mix": mix,
            "mix_chart": {
                "labels": [str(_("Practical value")), str(_("Fun")), str(_("Emotional"))],
                "actual": [mix.percents["value"], mix.percents["fun"], mix.percents["emotional"]],
                "target": [MIX_TARGET["value"], MIX_TARGET["fun"], MIX_TARGET["emotional"]],
            },
        },
        status=400 if form.errors else 200,
    )


# --- Auto-replies and welcome ---------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@community_page
def auto_replies(request: HttpRequest, community: Community) -> HttpResponse:
    groups = selectors.content_groups(request.user, community)
    form = AutoReplyForm(request.POST or None, groups=groups)
    if request.method == "POST":
        if request.POST.get("action") == "delete":
            rule = AutoReply.objects.filter(pk=_posted_id(request), group__in=groups).first()
            if rule is None:
                raise Http404
            autoreply.auto_reply_delete(rule=rule)
            return redirect("content:auto_replies", slug=community.slug)
        if not groups.exists():
            raise PermissionDenied
        if form.is_valid():
            try:
                autoreply.auto_reply_create(**form.cleaned_data)
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                messages.success(request, _("Rule added."))
                return redirect("content:auto_replies", slug=community.slug)
    return render(
        request,
        "content/auto_replies.html",
        {
            "community": community,
            "rules": selectors.auto_replies_for(request.user, community),
            "form": form,
            "can_manage": groups.exists(),
        },
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@community_page
def welcome(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    """Edit a group's welcome message with a live preview."""
    group = tree.group_for_user(request.user, community=community, pk=pk)
    form = WelcomeForm(request.POST or None, initial={"welcome_template": group.welcome_template})
    preview_group = group
    if request.method == "POST" and form.is_valid():
        template = form.cleaned_data["welcome_template"]
        if request.POST.get("action") == "preview":
            try:
                template = clean_welcome_template(template)
            except ApplicationError as error:
                return render(request, "content/_welcome_preview.html", {"problem": error.message})
            preview_group = Group(community=community, name=group.name, rules=group.rules, welcome_template=template)
            return render(
                request, "content/_welcome_preview.html", {"preview": welcome_text(preview_group, _("New member"))}
            )
        _require(request, Capability.MANAGE_CONTENT, group)
        try:
            tree_services.group_update(group=group, welcome_template=template)
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            messages.success(request, _("Welcome message saved."))
            return redirect("content:welcome", slug=community.slug, pk=group.pk)
    return render(
        request,
        "content/welcome.html",
        {
            "community": community,
            "group": group,
            "form": form,
            "preview": welcome_text(preview_group, _("New member")),
            "can_manage": can(request.user, Capability.MANAGE_CONTENT, group),
            "skip_review": ContentSettings.objects.filter(group=group, skip_review=True).exists(),
        },
        status=400 if form.errors else 200,
    )


@require_POST
@community_page
def review_setting(request: HttpRequest, community: Community, pk: int) -> HttpResponse:
    group = tree.group_for_user(request.user, community=community, pk=pk)
    if not can_final_review(request.user, group):
        raise PermissionDenied
    posts.content_settings_update(group=group, skip_review=request.POST.get("skip_review") == "1")
    messages.success(request, _("Saved."))
    return redirect("content:welcome", slug=community.slug, pk=group.pk)


# --- Integrations and the outbox ------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@community_page
def integrations(request: HttpRequest, community: Community) -> HttpResponse:
    if not (community.hub_id and can_final_review(request.user, community.hub)):
        raise Http404  # secrets: owners only
    action = request.POST.get("action", "add") if request.method == "POST" else ""
    community_integrations = Integration.objects.filter(community=community)
    form = IntegrationForm(request.POST if action == "add" else None)
    key_form = IntegrationKeyForm(request.POST if action == "create_key" else None, integrations=community_integrations)
    issued = None
    shown_secret = None  # a signing secret, shown when made or rotated and never again
    if request.method == "POST":
        if action == "delete":
            integration = community_integrations.filter(pk=_posted_id(request)).first()
            if integration:
                integration_delete(integration=integration)
            return redirect("content:integrations", slug=community.slug)
        if action in ("rotate_secret", "enable_webhook", "resend_failed"):
            integration = community_integrations.filter(pk=_posted_id(request)).first()
            if integration is None:
                raise Http404
            if action == "rotate_secret":
                shown_secret = integration_rotate_secret(integration=integration)
            elif action == "enable_webhook":
                integration_enable_webhook(integration=integration)
                messages.success(request, _("Webhook enabled: pending messages are on their way."))
                return redirect("content:integrations", slug=community.slug)
            else:
                count = integration_resend_failed(integration=integration)
                messages.success(request, _("%(count)d failed messages queued again.") % {"count": count})
                return redirect("content:integrations", slug=community.slug)
        if action == "resend_message":
            message = OutboundMessage.objects.filter(community=community, pk=_posted_id(request)).first()
            if message is None:
                raise Http404
            try:
                message_resend(message=message)
            except ApplicationError as error:
                messages.error(request, error.message)
            else:
                messages.success(request, _("Message queued again."))
            return redirect("content:integrations", slug=community.slug)
        if action in ("rotate_key", "revoke_key"):
            key = IntegrationKey.objects.filter(integration__community=community, pk=_posted_id(request)).first()
            if key is None:
                raise Http404
            if action == "revoke_key":
                integration_keys.key_revoke(key=key)
                messages.success(request, _("Key revoked: it no longer works."))
                return redirect("content:integrations", slug=community.slug)
            try:
                issued = integration_keys.key_rotate(key=key, created_by=request.user)
            except ApplicationError as error:
                messages.error(request, error.message)
                return redirect("content:integrations", slug=community.slug)
        elif action == "create_key" and key_form.is_valid():
            data = key_form.cleaned_data
            try:
                issued = integration_keys.key_create(
                    integration=data["integration"],
                    name=data["name"],
                    scopes=data["scopes"],
                    expires_at=key_form.expires_at(),
                    created_by=request.user,
                )
            except ApplicationError as error:
                add_application_error(key_form, error)
            else:
                key_form = IntegrationKeyForm(integrations=community_integrations)
        elif action == "add" and form.is_valid():
            try:
                created = integration_create(community=community, **form.cleaned_data)
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                messages.success(request, _("Integration added."))
                if not created.webhook_url:
                    return redirect("content:integrations", slug=community.slug)
                shown_secret = created
                form = IntegrationForm()
    return render(
        request,
        "content/integrations.html",
        {
            "community": community,
            "integrations": community_integrations,
            "keys": IntegrationKey.objects.filter(integration__community=community)
            .select_related("integration", "rotated_to")
            .order_by("integration__name", "-created_at"),
            "issued": issued,
            "shown_secret": shown_secret,
            "failing": failing_integrations(community),
            "grace_hours": integration_keys.rotation_grace().total_seconds() // 3600,
            "outbox": OutboundMessage.objects.filter(community=community)
            .select_related("group")
            .order_by("-created_at")[:50],
            "form": form,
            "key_form": key_form,
        },
        status=400 if form.errors or key_form.errors else 200,
    )
