"""Django admin for people and the funnel (superusers only).

Writes that move seats or decide applications go through the services, as everywhere else;
records that only the funnel creates (applications, invitations) are read-only here.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError
from core.forms import add_application_error
from members import rules, services
from members.models import (
    AdminAssessment,
    Application,
    Invitation,
    KnockoutRule,
    LiveCode,
    LiveCodeGroup,
    Member,
    Membership,
    MembershipStatus,
    PlatformHandle,
    PointsEntry,
    Question,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class HandleInline(admin.TabularInline):
    model = PlatformHandle
    extra = 0
    fields = ("platform", "external_id", "created_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class MemberForm(forms.ModelForm):
    class Meta:
        model = Member
        fields = [
            "community",
            "display_name",
            "phone",
            "email",
            "city",
            "language",
            "purchase_count",
            "annual_member",
            "lifecycle_stage",
            "tags",
            "notes",
            "user",
        ]

    def clean(self):
        data = super().clean()
        try:
            rules.clean_name(data.get("display_name", ""))
            data["phone"] = rules.clean_phone(data.get("phone", ""))
            rules.clean_tags(data.get("tags"))
        except ApplicationError as error:
            add_application_error(self, error)
        return data


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    form = MemberForm
    list_display = ("display_name", "community", "city", "purchase_count", "annual_member", "joined_at")
    list_filter = ("annual_member", "lifecycle_stage", ("community", admin.RelatedOnlyFieldListFilter))
    search_fields = ("display_name", "phone", "email", "city", "handles__external_id")
    list_select_related = ("community", "community__hub")
    raw_id_fields = ("user",)
    inlines = [HandleInline]

    def get_readonly_fields(self, request, obj=None):
        return ("community", "joined_at", "last_seen_at") if obj else ("joined_at", "last_seen_at")

    def delete_model(self, request, obj):
        # End the member's memberships first, so their groups' member counts stay true.
        try:
            with transaction.atomic():
                for membership in obj.memberships.filter(status=MembershipStatus.ACTIVE):
                    services.membership_end(membership=membership, removed=True, by=request.user)
                obj.delete()
        except ApplicationError as error:
            self.message_user(request, f"{obj}: {error.message}", messages.ERROR)

    def delete_queryset(self, request, queryset):
        for member in queryset:
            self.delete_model(request, member)


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["member", "group", "role", "source", "role_until"]

    def clean(self):
        data = super().clean()
        member, group = data.get("member"), data.get("group")
        if member and group and member.community_id != group.community_id:
            self.add_error("group", _("The member and the group belong to different communities."))
        if group and not self.instance.pk and group.member_count >= group.capacity:
            self.add_error("group", _("This group is full."))
        return data


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    form = MembershipForm
    list_display = ("member", "group", "role", "status", "source", "joined_at", "left_at")
    list_filter = ("role", "status", "source")
    search_fields = ("member__display_name", "group__name")
    list_select_related = ("member", "group")
    raw_id_fields = ("member", "group")
    actions = ["end_memberships"]

    def get_readonly_fields(self, request, obj=None):
        return ("member", "group", "source", "status", "joined_at", "left_at") if obj else ("status",)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            saved = services.role_grant(
                member=obj.member, group=obj.group, role=data["role"], role_until=data.get("role_until")
            )
        else:
            saved = services.membership_add(
                member=data["member"],
                group=data["group"],
                source=data["source"],
                role=data["role"],
                role_until=data.get("role_until"),
            )
        obj.pk = saved.pk
        obj._state.adding = False
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        # Free the seat first, so the group's member count stays true.
        services.membership_end(membership=obj, removed=True)
        obj.delete()

    def delete_queryset(self, request, queryset):
        for membership in queryset:
            self.delete_model(request, membership)

    @admin.action(description=_("End the selected memberships (the member left)"))
    def end_memberships(self, request, queryset):
        ended = 0
        for membership in queryset.filter(status=MembershipStatus.ACTIVE):
            try:
                services.membership_end(membership=membership)
                ended += 1
            except ApplicationError as error:
                self.message_user(request, f"{membership}: {error.message}", messages.ERROR)
        self.message_user(request, _("Ended %(count)d membership(s).") % {"count": ended})


class RuleInline(admin.TabularInline):
    model = KnockoutRule
    extra = 0


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ("text", "group", "kind", "required", "position")
    list_filter = ("kind", "required")
    search_fields = ("text", "group__name")
    raw_id_fields = ("group", "show_if_question")
    inlines = [RuleInline]


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = ("display_name", "group", "status", "submitted_at", "decided_at", "decided_by")
    list_filter = ("status", "decided_automatically")
    search_fields = ("display_name", "phone", "email", "group__name")
    list_select_related = ("group", "decided_by")
    exclude = ("status_token",)


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ("group", "application", "created_at", "expires_at", "accepted_at", "revoked_at")
    search_fields = ("group__name", "application__display_name")
    list_select_related = ("group", "application")
    exclude = ("token",)
    actions = ["revoke"]

    @admin.action(description=_("Revoke the selected invitations"))
    def revoke(self, request, queryset):
        for invitation in queryset:
            services.invitation_revoke(invitation=invitation)


class PoolInline(admin.TabularInline):
    model = LiveCodeGroup
    extra = 0
    fields = ("group", "position", "added_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(LiveCode)
class LiveCodeAdmin(admin.ModelAdmin):
    list_display = ("name", "community", "slug", "attribute", "scan_count", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "slug", "attribute")
    fields = (
        "community",
        "name",
        "slug",
        "parent",
        "attribute",
        "kind",
        "join_limit",
        "max_groups",
        "is_active",
        "scan_count",
    )
    readonly_fields = ("community", "slug", "parent", "attribute", "kind", "scan_count")
    inlines = [PoolInline]

    def has_add_permission(self, request, obj=None):
        return False  # created in the dashboard, which checks the pool


@admin.register(AdminAssessment)
class AdminAssessmentAdmin(admin.ModelAdmin):
    list_display = ("member", "group", "month", "activity_score", "dispute_score")
    list_filter = ("month",)
    search_fields = ("member__display_name", "group__name")
    raw_id_fields = ("member", "group", "assessed_by")


@admin.register(PlatformHandle)
class PlatformHandleAdmin(ReadOnlyAdmin):
    list_display = ("member", "platform", "external_id", "community")
    list_filter = ("platform",)
    search_fields = ("external_id", "member__display_name")


@admin.register(PointsEntry)
class PointsEntryAdmin(admin.ModelAdmin):
    """The ledger is append-only: a correction is a new entry, never an edit."""

    list_display = ["member", "amount", "reason", "note", "created_at"]
    list_filter = ["reason", "community"]
    raw_id_fields = ["member"]
    search_fields = ["member__display_name", "key"]

    def has_change_permission(self, request, obj=None):
        return False
