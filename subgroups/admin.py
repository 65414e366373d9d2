"""Django admin for communities and groups.

Structural writes go through the services, like everywhere else: the admin's forms check
input with the same rules, and saving, moving, archiving and deleting call the services so
the tree lock is held and mptt's intervals stay sound.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count
from django.utils.translation import gettext_lazy as _
from mptt.admin import MPTTModelAdmin
from mptt.forms import TreeNodeChoiceField

from core.errors import ApplicationError
from core.forms import add_application_error
from subgroups import rules, services
from subgroups.models import SUBGROUP_KINDS, Community, Group, GroupStatus, Platform


def _become(obj, saved) -> None:
    """The admin keeps its own ``obj``; make it the row the service saved."""
    obj.pk = saved.pk
    obj._state.adding = False
    obj.refresh_from_db()


class CommunityAddForm(forms.ModelForm):
    name = forms.CharField(label=_("Hub name"), max_length=100)
    platform = forms.ChoiceField(label=_("Platform"), choices=Platform.choices, initial=Platform.WECOM)
    capacity = forms.IntegerField(label=_("Capacity"), min_value=1, required=False)

    class Meta:
        model = Community
        fields = ["slug", "time_zone", "language"]

    def clean(self):
        data = super().clean()
        try:
            rules.clean_group_name(data.get("name", ""), banned_words=settings.CANOPY_BANNED_NAME_WORDS)
            if data.get("slug"):
                rules.clean_slug(data["slug"])
            rules.clean_time_zone(data.get("time_zone", ""))
            rules.clean_capacity(data.get("capacity"), data.get("platform") or Platform.WECOM)
        except ApplicationError as error:
            add_application_error(self, error)
        return data


class CommunityChangeForm(forms.ModelForm):
    class Meta:
        model = Community
        fields = ["time_zone", "language", "banned_name_words"]

    def clean(self):
        data = super().clean()
        try:
            rules.clean_time_zone(data.get("time_zone", ""))
            rules.clean_banned_words(data.get("banned_name_words", []))
        except ApplicationError as error:
            add_application_error(self, error)
        return data


@admin.register(Community)
class CommunityAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "time_zone", "language", "group_count", "created_at")
    search_fields = ("slug", "hub__name")
    list_select_related = ("hub",)
    readonly_fields = ("hub", "created_at", "updated_at")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(group_count=Count("groups"))

    @admin.display(description=_("groups"), ordering="group_count")
    def group_count(self, community: Community) -> int:
        return community.group_count

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = CommunityChangeForm if obj else CommunityAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "slug", "platform", "capacity", "time_zone", "language"]
        return ["slug", "hub", "time_zone", "language", "banned_name_words", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        return ("slug", *self.readonly_fields) if obj else ()

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            saved = services.community_update(
                community=obj,
                time_zone=data["time_zone"],
                language=data["language"],
                banned_name_words=data["banned_name_words"] or [],
            )
        else:
            saved = services.community_create(
                name=data["name"],
                slug=data.get("slug") or None,
                platform=data["platform"],
                capacity=data.get("capacity"),
                time_zone=data["time_zone"],
                language=data["language"],
            )
        _become(obj, saved)


class GroupAdminForm(forms.ModelForm):
    parent = TreeNodeChoiceField(queryset=Group.objects.select_related("community"), label=_("Parent"))
    kind = forms.ChoiceField(label=_("Kind"), choices=SUBGROUP_KINDS)

    class Meta:
        model = Group
        fields = [
            "parent",
            "name",
            "slug",
            "kind",
            "platform",
            "external_id",
            "capacity",
            "description",
            "rules",
            "admission_criteria",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["capacity"].required = False
        if self.instance.pk:
            self.fields["slug"].disabled = True
            self.fields["kind"].disabled = True
            if self.instance.is_hub:
                self.fields["parent"].required = False
                self.fields["parent"].disabled = True
                self.fields["kind"].choices = [(self.instance.kind, self.instance.get_kind_display())]

    def clean(self):
        data = super().clean()
        parent = data.get("parent")
        instance = self.instance
        community = instance.community if instance.pk else (parent.community if parent else None)
        if community is None:
            return data
        try:
            rules.clean_group_name(data.get("name", ""), banned_words=community.banned_name_words)
            if instance.pk and parent and parent.pk != instance.parent_id:
                rules.check_move(group=instance, new_parent=parent)
            if not instance.pk:
                rules.check_parent_open(parent)
                if data.get("slug"):
                    rules.check_slug_free(community_id=community.pk, slug=rules.clean_slug(data["slug"]))
            rules.clean_capacity(
                data.get("capacity"), data.get("platform") or Platform.WECHAT, member_count=instance.member_count
            )
            rules.check_external_id_free(
                community_id=community.pk,
                platform=data.get("platform") or Platform.WECHAT,
                external_id=rules.clean_external_id(data.get("external_id", "")),
                exclude_pk=instance.pk,
            )
            rules.clean_admission_criteria(data.get("kind") or instance.kind, data.get("admission_criteria"))
        except ApplicationError as error:
            add_application_error(self, error)
        return data


@admin.register(Group)
class GroupAdmin(MPTTModelAdmin):
    form = GroupAdminForm
    list_display = ("name", "community", "kind", "platform", "member_count", "capacity", "status")
    list_filter = ("kind", "platform", "status", ("community", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "slug", "external_id", "community__slug")
    list_select_related = ("community",)
    readonly_fields = ("community", "member_count", "status", "archived_at", "created_at", "updated_at")
    actions = ["archive_groups", "restore_groups"]
    mptt_level_indent = 24

    def get_fields(self, request, obj=None):
        fields = list(GroupAdminForm.Meta.fields)
        return [*fields, *self.readonly_fields] if obj else fields

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        values = {
            "name": data["name"],
            "platform": data["platform"],
            "capacity": data.get("capacity"),
            "external_id": data.get("external_id", ""),
            "description": data.get("description", ""),
            "rules_text": data.get("rules", ""),
            "admission_criteria": data.get("admission_criteria") or {},
        }
        if not change:
            saved = services.group_create_child(
                parent=data["parent"], kind=data["kind"], slug=data.get("slug") or None, **values
            )
        else:
            original = Group.objects.get(pk=obj.pk)
            if data.get("parent") and data["parent"].pk != original.parent_id:
                services.group_move(group=original, new_parent=data["parent"])
            if values["capacity"] is None:
                values["capacity"] = original.capacity
            saved = services.group_update(group=original, **values)
        _become(obj, saved)

    def delete_model(self, request, obj):
        try:
            services.group_delete(group=obj)
        except ApplicationError as error:
            self.message_user(request, error.message, messages.ERROR)

    def delete_queryset(self, request, queryset):
        # One at a time, deepest first, each under the tree lock; a parent's delete takes its
        # subtree, so skip rows already gone.
        for group in sorted(queryset, key=lambda node: -node.level):
            if Group.objects.filter(pk=group.pk).exists():
                self.delete_model(request, group)

    @admin.action(description=_("Archive the selected groups with their sub-groups"))
    def archive_groups(self, request, queryset):
        changed = 0
        for group in queryset.exclude(status=GroupStatus.ARCHIVED):
            try:
                changed += services.group_archive(group=group)
            except ApplicationError as error:
                self.message_user(request, f"{group}: {error.message}", messages.ERROR)
        self.message_user(request, _("Archived %(count)d group(s).") % {"count": changed})

    @admin.action(description=_("Restore the selected archived groups with their sub-groups"))
    def restore_groups(self, request, queryset):
        changed = 0
        for group in queryset.filter(status=GroupStatus.ARCHIVED).order_by("level"):
            try:
                changed += services.group_restore(group=Group.objects.get(pk=group.pk))
            except ApplicationError as error:
                self.message_user(request, f"{group}: {error.message}", messages.ERROR)
        self.message_user(request, _("Restored %(count)d group(s).") % {"count": changed})
