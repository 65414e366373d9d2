"""Django admin for content (superusers only).

Word lists change through the services, so the matcher's version stamp moves with them. Posts
and their steps are records of the pipeline: read here, decided on the review pages or the API.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from content.models import (
    AllowedTerm,
    AuthorWarning,
    AutoReply,
    ContentSettings,
    Digest,
    DigestStatus,
    Lexicon,
    LexiconEntry,
    MemberFlag,
    ModerationFlag,
    Post,
    PostStatus,
    ReviewStep,
    Schedule,
    ScheduleRun,
)
from content.services import autoreply, calendar, digests, lexicon, moderation, posts
from core.errors import ApplicationError
from core.forms import add_application_error


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- Word lists -----------------------------------------------------------------------------


@admin.register(Lexicon)
class LexiconAdmin(admin.ModelAdmin):
    list_display = ("community", "use_default_list", "version", "updated_at")
    list_select_related = ("community", "community__hub")
    search_fields = ("community__slug", "community__hub__name")
    fields = ("community", "use_default_list", "version", "updated_at")
    readonly_fields = ("community", "version", "updated_at")

    def has_add_permission(self, request, obj=None):
        return False  # each community's is made on first use

    def save_model(self, request, obj, form, change):
        updated = lexicon.lexicon_update(community=obj.community, use_default_list=obj.use_default_list)
        obj.version = updated.version


class LexiconEntryForm(forms.ModelForm):
    class Meta:
        model = LexiconEntry
        fields = ["community", "word", "category", "action"]

    def clean(self):
        data = super().clean()
        try:
            data["word"] = lexicon.clean_word(data.get("word", ""))
        except ApplicationError as error:
            add_application_error(self, error)
        return data

    def validate_unique(self):
        pass  # adding a listed word changes its category and action (the service's upsert)


@admin.register(LexiconEntry)
class LexiconEntryAdmin(admin.ModelAdmin):
    form = LexiconEntryForm
    list_display = ("word", "category", "action", "community", "created_at")
    list_filter = ("category", "action")
    search_fields = ("word",)
    list_select_related = ("community", "community__hub")

    def get_readonly_fields(self, request, obj=None):
        return ("community", "word") if obj else ()

    def save_model(self, request, obj, form, change):
        saved = lexicon.word_add(
            community=form.cleaned_data.get("community") or obj.community,
            word=form.cleaned_data.get("word") or obj.word,
            category=form.cleaned_data["category"],
            action=form.cleaned_data["action"],
        )
        obj.pk = saved.pk
        obj._state.adding = False
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        lexicon.word_remove(entry=obj)

    def delete_queryset(self, request, queryset):
        for entry in queryset.select_related("community"):
            lexicon.word_remove(entry=entry)


class AllowedTermForm(forms.ModelForm):
    class Meta:
        model = AllowedTerm
        fields = ["community", "term"]

    def clean(self):
        data = super().clean()
        try:
            data["term"] = lexicon.clean_word(data.get("term", ""), field="term")
        except ApplicationError as error:
            add_application_error(self, error)
        return data


@admin.register(AllowedTerm)
class AllowedTermAdmin(admin.ModelAdmin):
    form = AllowedTermForm
    list_display = ("term", "community", "created_at")
    search_fields = ("term",)
    list_select_related = ("community", "community__hub")

    def has_change_permission(self, request, obj=None):
        return False  # remove and add again

    def save_model(self, request, obj, form, change):
        saved = lexicon.allowed_add(community=form.cleaned_data["community"], term=form.cleaned_data["term"])
        obj.pk = saved.pk
        obj._state.adding = False

    def delete_model(self, request, obj):
        lexicon.allowed_remove(allowed=obj)

    def delete_queryset(self, request, queryset):
        for term in queryset.select_related("community"):
            lexicon.allowed_remove(allowed=term)


# --- Posts ----------------------------------------------------------------------------------


class StepInline(admin.TabularInline):
    model = ReviewStep
    extra = 0
    fields = ("at", "stage", "decision", "by", "note")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Post)
class PostAdmin(ReadOnlyAdmin):
    list_display = ("title", "group", "kind", "source", "status", "featured", "created_at", "published_at")
    list_filter = ("status", "kind", "source", "featured")
    search_fields = ("title", "body", "group__name", "author__display_name")
    list_select_related = ("group", "author")
    exclude = ("status_token",)
    inlines = [StepInline]
    actions = ["feature", "unfeature"]

    def _feature(self, request, queryset, featured: bool) -> None:
        changed = 0
        for post in queryset.filter(status=PostStatus.PUBLISHED):
            posts.post_feature(post=post, featured=featured, by=request.user)
            changed += 1
        self.message_user(request, _("Changed %(count)d published post(s).") % {"count": changed})

    @admin.action(description=_("Feature the selected published posts"))
    def feature(self, request, queryset):
        self._feature(request, queryset, True)

    @admin.action(description=_("Unfeature the selected posts"))
    def unfeature(self, request, queryset):
        self._feature(request, queryset, False)


@admin.register(ReviewStep)
class ReviewStepAdmin(ReadOnlyAdmin):
    list_display = ("post", "stage", "decision", "by", "at")
    list_filter = ("stage", "decision")
    search_fields = ("post__title", "note", "by__username")
    list_select_related = ("post", "by")


@admin.register(ContentSettings)
class ContentSettingsAdmin(admin.ModelAdmin):
    list_display = ("group", "skip_review")
    list_filter = ("skip_review",)
    search_fields = ("group__name",)
    raw_id_fields = ("group",)


@admin.register(AuthorWarning)
class AuthorWarningAdmin(ReadOnlyAdmin):
    list_display = ("member", "group", "words", "at")
    search_fields = ("member__display_name", "group__name")
    list_select_related = ("member", "group")


# --- Flags ----------------------------------------------------------------------------------


class _FlagAdmin(ReadOnlyAdmin):
    list_filter = ("status",)
    actions = ["resolve"]

    @admin.action(description=_("Resolve the selected flags"))
    def resolve(self, request, queryset):
        for flag in queryset:
            moderation.flag_resolve(flag=flag, by=request.user)
        self.message_user(request, _("Resolved."))


@admin.register(ModerationFlag)
class ModerationFlagAdmin(_FlagAdmin):
    list_display = ("created_at", "group", "platform", "action", "excerpt", "status")
    list_filter = ("status", "action", "platform")
    search_fields = ("excerpt", "external_message_id", "author_external_id", "group__name")
    list_select_related = ("group",)


@admin.register(MemberFlag)
class MemberFlagAdmin(_FlagAdmin):
    list_display = ("created_at", "member", "group", "reason", "status")
    search_fields = ("member__display_name", "reason", "group__name")
    list_select_related = ("member", "group")


# --- Digests, calendar, auto-replies -------------------------------------------------------


@admin.register(Digest)
class DigestAdmin(admin.ModelAdmin):
    list_display = ("title", "community", "period_start", "period_end", "status", "published_at")
    list_filter = ("status",)
    search_fields = ("title", "body")
    list_select_related = ("community", "community__hub")
    fields = ("community", "period_start", "period_end", "title", "body", "posts", "status", "published_post")
    actions = ["publish"]

    def has_add_permission(self, request, obj=None):
        return False  # drafted by the weekly task, or from the digests page

    def get_readonly_fields(self, request, obj=None):
        locked = ("community", "period_start", "period_end", "posts", "status", "published_post")
        if obj is not None and obj.status != DigestStatus.DRAFT:
            return (*locked, "title", "body")
        return locked

    def save_model(self, request, obj, form, change):
        try:
            digests.digest_update(digest=obj, title=obj.title, body=obj.body)
        except ApplicationError as error:
            self.message_user(request, error.message, messages.ERROR)

    @admin.action(description=_("Publish the selected drafts to the hub"))
    def publish(self, request, queryset):
        for digest in queryset.filter(status=DigestStatus.DRAFT).select_related("community__hub"):
            try:
                digests.digest_publish(digest=digest, by=request.user)
            except ApplicationError as error:
                self.message_user(request, f"{digest}: {error.message}", messages.ERROR)
        self.message_user(request, _("Done."))


class ScheduleForm(forms.ModelForm):
    class Meta:
        model = Schedule
        fields = ["group", "kind", "title", "body", "weekdays", "time", "is_active"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            calendar.schedule_clean(data["kind"], data["title"], data["body"], data["weekdays"], data["time"])
        except ApplicationError as error:
            add_application_error(self, error)
        return data


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    form = ScheduleForm
    list_display = ("title", "group", "kind", "weekdays", "time", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("title", "group__name")
    list_select_related = ("group",)
    raw_id_fields = ("group",)

    def get_readonly_fields(self, request, obj=None):
        return ("group",) if obj else ()

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        values = {
            "kind": data["kind"],
            "title": data["title"],
            "body": data["body"],
            "weekdays": data["weekdays"],
            "at": data["time"],
        }
        if change:
            saved = calendar.schedule_update(schedule=obj, is_active=data["is_active"], **values)
        else:
            saved = calendar.schedule_create(group=data["group"], **values)
            if not data["is_active"]:
                calendar.schedule_update(schedule=saved, is_active=False)
        obj.pk = saved.pk
        obj._state.adding = False
        obj.refresh_from_db()


@admin.register(ScheduleRun)
class ScheduleRunAdmin(ReadOnlyAdmin):
    list_display = ("schedule", "day", "post", "created_at")
    search_fields = ("schedule__title",)
    list_select_related = ("schedule", "post")


class AutoReplyForm(forms.ModelForm):
    class Meta:
        model = AutoReply
        fields = ["group", "keyword", "match", "reply", "priority", "is_active"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            data["keyword"], data["reply"], data["match"], data["priority"] = autoreply.rule_clean(
                keyword=data["keyword"], reply=data["reply"], match=data["match"], priority=data["priority"]
            )
        except ApplicationError as error:
            add_application_error(self, error)
        return data


@admin.register(AutoReply)
class AutoReplyAdmin(admin.ModelAdmin):
    form = AutoReplyForm
    list_display = ("keyword", "match", "group", "priority", "is_active")
    list_filter = ("match", "is_active")
    search_fields = ("keyword", "reply", "group__name")
    list_select_related = ("group",)
    raw_id_fields = ("group",)
