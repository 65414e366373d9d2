from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from subgroups.models import (
    LANGUAGES,
    MAX_CAPACITY,
    SUBGROUP_KINDS,
    Community,
    Group,
    GroupKind,
    GroupStatus,
    LifecycleStage,
    Platform,
)
from subgroups.rules import CRITERIA_KEYS_BY_KIND, available_time_zones

_LIST_SPLIT = re.compile(r"[,，、;；\n]+")


def split_words(text: str) -> list[str]:
    """Operators type lists the way they like: commas (either width), 、, semicolons or lines."""
    return [item.strip() for item in _LIST_SPLIT.split(text or "") if item.strip()]


class GroupChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, group: Group) -> str:
        return f"{'— ' * group.level}{group.name}"


def _placement_queryset(groups):
    return groups.exclude(status=GroupStatus.ARCHIVED).order_by("tree_id", "lft")


class CommunityCreateForm(forms.Form):
    name = forms.CharField(label=_("Hub name"), max_length=100, help_text=_("e.g. 互联网从业者交流群"))
    slug = forms.SlugField(
        label=_("Slug"), max_length=60, required=False, help_text=_("Used in links. Made from the name if empty.")
    )
    platform = forms.ChoiceField(label=_("Platform"), choices=Platform.choices, initial=Platform.WECOM)
    capacity = forms.IntegerField(
        label=_("Capacity"),
        min_value=1,
        max_value=MAX_CAPACITY,
        required=False,
        help_text=_("Empty: the platform's cap."),
    )
    time_zone = forms.ChoiceField(label=_("Time zone"), initial="Asia/Shanghai")
    language = forms.ChoiceField(
        label=_("Members' language"),
        choices=LANGUAGES,
        help_text=_("Invitations, welcomes, recall messages and members' pages are written in it."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(zone, zone) for zone in sorted(available_time_zones())]
        # The creator's own language is the best first guess for their members'.
        current = translation.get_language() or ""
        self.fields["language"].initial = current if current in dict(LANGUAGES) else settings.CANOPY_DEFAULT_LANGUAGE


class GroupCreateForm(forms.Form):
    parent = GroupChoiceField(label=_("Under"), queryset=Group.objects.none())
    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=SUBGROUP_KINDS, initial=GroupKind.INTEREST)
    platform = forms.ChoiceField(
        label=_("Platform"), choices=[("", _("Same as parent")), *Platform.choices], required=False
    )
    capacity = forms.IntegerField(
        label=_("Capacity"),
        min_value=1,
        max_value=MAX_CAPACITY,
        required=False,
        help_text=_("Empty: the platform's cap (WeChat: 500)."),
    )

    def __init__(self, *args: Any, places, **kwargs: Any) -> None:
        """``places``: the groups the user may add sub-groups to."""
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = _placement_queryset(places)


class MoveForm(forms.Form):
    parent = GroupChoiceField(label=_("Move under"), queryset=Group.objects.none())

    def __init__(self, *args: Any, group: Group, places, **kwargs: Any) -> None:
        """``places``: the groups the user may move groups to."""
        super().__init__(*args, **kwargs)
        subtree = group.get_descendants(include_self=True).values("pk")
        self.fields["parent"].queryset = _placement_queryset(places).exclude(pk__in=subtree).exclude(pk=group.parent_id)


class GroupEditForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    platform = forms.ChoiceField(label=_("Platform"), choices=Platform.choices)
    capacity = forms.IntegerField(label=_("Capacity"), min_value=1, max_value=MAX_CAPACITY)
    external_id = forms.CharField(
        label=_("External id"), max_length=128, required=False, help_text=_("The group's id on its platform.")
    )
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 3}), required=False)
    rules = forms.CharField(label=_("Rules"), widget=forms.Textarea(attrs={"rows": 4}), required=False)
    welcome_template = forms.CharField(
        label=_("Welcome message"),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text=_("Use {name}, {group} and {rules}. Empty: the default welcome."),
    )
    join_link = forms.CharField(
        label=_("Join link"),
        max_length=500,
        required=False,
        help_text=_("The platform's invite link or group QR address. WeChat group QR codes expire after 7 days."),
    )
    # Admission criteria, shown by kind.
    min_purchases = forms.IntegerField(label=_("Minimum purchases"), min_value=0, max_value=100_000, required=False)
    annual_member = forms.BooleanField(label=_("Annual members only"), required=False)
    cities = forms.CharField(label=_("Cities"), required=False, help_text=_("Separate with commas or 、"))
    stage = forms.ChoiceField(label=_("Lifecycle stage"), choices=[("", "—"), *LifecycleStage.choices], required=False)
    tags = forms.CharField(label=_("Interest tags"), required=False, help_text=_("Separate with commas or 、"))

    CRITERIA_FIELDS = ("min_purchases", "annual_member", "cities", "stage", "tags")

    def __init__(self, *args: Any, group: Group, **kwargs: Any) -> None:
        criteria = group.admission_criteria or {}
        kwargs.setdefault(
            "initial",
            {
                "name": group.name,
                "platform": group.platform,
                "capacity": group.capacity,
                "external_id": group.external_id,
                "description": group.description,
                "rules": group.rules,
                "welcome_template": group.welcome_template,
                "join_link": group.join_link,
                "min_purchases": criteria.get("min_purchases"),
                "annual_member": criteria.get("annual_member", False),
                "cities": "、".join(criteria.get("cities", [])),
                "stage": criteria.get("stage", ""),
                "tags": "、".join(criteria.get("tags", [])),
            },
        )
        super().__init__(*args, **kwargs)
        allowed = CRITERIA_KEYS_BY_KIND.get(group.kind, frozenset())
        for field in self.CRITERIA_FIELDS:
            if field not in allowed:
                del self.fields[field]

    @property
    def criteria_fields(self) -> list:
        return [self[name] for name in self.CRITERIA_FIELDS if name in self.fields]

    @property
    def main_fields(self) -> list:
        return [self[name] for name in self.fields if name not in self.CRITERIA_FIELDS]

    def service_values(self) -> dict[str, Any]:
        data = self.cleaned_data
        values: dict[str, Any] = {
            "name": data["name"],
            "platform": data["platform"],
            "capacity": data["capacity"],
            "external_id": data["external_id"],
            "description": data["description"],
            "rules_text": data["rules"],
            "welcome_template": data["welcome_template"],
            "join_link": data["join_link"],
        }
        criteria: dict[str, Any] = {}
        if data.get("min_purchases") is not None:
            criteria["min_purchases"] = data["min_purchases"]
        if data.get("annual_member"):
            criteria["annual_member"] = True
        for key in ("cities", "tags"):
            if data.get(key):
                criteria[key] = split_words(data[key])
        if data.get("stage"):
            criteria["stage"] = data["stage"]
        if any(name in self.fields for name in self.CRITERIA_FIELDS):
            values["admission_criteria"] = criteria
        return values


class CommunitySettingsForm(forms.Form):
    time_zone = forms.ChoiceField(label=_("Time zone"))
    language = forms.ChoiceField(
        label=_("Members' language"),
        choices=LANGUAGES,
        help_text=_("Invitations, welcomes, recall messages and members' pages are written in it."),
    )
    banned_name_words = forms.CharField(
        label=_("Banned words in group names"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text=_("One per line, or separated by commas or 、. Names containing them are refused."),
    )

    def __init__(self, *args: Any, community: Community, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "time_zone": community.time_zone,
                "language": community.language,
                "banned_name_words": "\n".join(community.banned_name_words),
            },
        )
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(zone, zone) for zone in sorted(available_time_zones())]

    def service_values(self) -> dict[str, Any]:
        return {
            "time_zone": self.cleaned_data["time_zone"],
            "language": self.cleaned_data["language"],
            "banned_name_words": split_words(self.cleaned_data["banned_name_words"]),
        }
