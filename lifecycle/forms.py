from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from lifecycle.models import MAX_OFFSET_DAYS, MAX_THRESHOLD, TriggerKind
from lifecycle.services.rules import default_notice
from subgroups.forms import GroupChoiceField
from subgroups.models import Community, Group, GroupStatus

_PLACEHOLDER_HELP = _(
    "Placeholders: {name}, {from_group}, {to_group} and {date}, which is the trigger's date (e.g. the exam date) "
    "or the day of the move."
)


class RuleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    from_group = GroupChoiceField(label=_("Move members of"), queryset=Group.objects.none())
    to_group = GroupChoiceField(label=_("To"), queryset=Group.objects.none())
    trigger = forms.ChoiceField(label=_("When"), choices=TriggerKind.choices)
    anchor_date = forms.DateField(
        label=_("Date"), required=False, help_text=_("A date trigger: e.g. the exam date, 2026-12-20.")
    )
    date_label = forms.CharField(
        label=_("Member's date"), max_length=32, required=False, initial="exam",
        help_text=_("The member's own date trigger: which of their dates, e.g. exam."),
    )  # fmt: skip
    offset_days = forms.IntegerField(
        label=_("Days before the date"), required=False, initial=0,
        min_value=-MAX_OFFSET_DAYS, max_value=MAX_OFFSET_DAYS,
        help_text=_("For both date triggers: 90 moves members three months before; negative moves them after."),
    )  # fmt: skip
    threshold = forms.IntegerField(
        label=_("Threshold"), required=False, min_value=1, max_value=MAX_THRESHOLD,
        help_text=_("Days in the group, check-ins since joining it, or lifetime points earned."),
    )  # fmt: skip
    keep_previous = forms.BooleanField(
        label=_("Keep them in the previous group too"), required=False,
        help_text=_("Off: they leave the previous group, which frees its seat."),
    )  # fmt: skip
    notice_template = forms.CharField(
        label=_("Notice to the member"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}), help_text=_PLACEHOLDER_HELP,
    )  # fmt: skip
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, community: Community, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("notice_template", default_notice())
        super().__init__(*args, **kwargs)
        groups = (
            Group.objects.filter(community=community).exclude(status=GroupStatus.ARCHIVED).order_by("tree_id", "lft")
        )
        self.fields["from_group"].queryset = groups
        self.fields["to_group"].queryset = groups.exclude(parent__isnull=True)


class MemberDateForm(forms.Form):
    member = forms.CharField(
        label=_("Member"), max_length=150,
        help_text=_("Their id in Canopy, platform:account (e.g. qq:10001), or their exact name."),
    )  # fmt: skip
    label = forms.CharField(label=_("Which date"), max_length=32, initial="exam")
    date = forms.DateField(label=_("Date"), help_text=_("e.g. 2026-12-20"))


class DatesImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_("Columns: member (or platform and user_id), date, and optionally label. UTF-8."),
    )
    label = forms.CharField(label=_("Label for rows without one"), max_length=32, initial="exam")
