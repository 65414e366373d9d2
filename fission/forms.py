"""Forms of the fission pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from subgroups.models import Group

_LOCAL = "%Y-%m-%dT%H:%M"


class _LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format=_LOCAL, **kwargs)


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("e.g. 邀请3位好友解锁《豆瓣高分书单》"))
    starts_at = forms.DateTimeField(label=_("Starts"), widget=_LocalDateTimeInput(), input_formats=[_LOCAL])
    ends_at = forms.DateTimeField(label=_("Ends"), widget=_LocalDateTimeInput(), input_formats=[_LOCAL])
    group = forms.ModelChoiceField(
        label=_("Group"),
        queryset=Group.objects.none(),
        required=False,
        empty_label=_("The whole community"),
        help_text=_("Only joins into this group and the groups below it count."),
    )
    goal_invites = forms.IntegerField(label=_("Friends to invite"), min_value=1, max_value=1000, initial=3)
    reward_text = forms.CharField(label=_("Reward"), max_length=200, help_text=_("What the task unlocks."))
    reward_points = forms.IntegerField(label=_("Reward points"), min_value=0, max_value=1_000_000, initial=0)
    reward_url = forms.URLField(label=_("Reward link"), max_length=500, required=False, assume_scheme="https")
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, groups=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if groups is not None:
            self.fields["group"].queryset = groups.order_by("tree_id", "lft")

    def clean(self) -> dict:
        data = super().clean()
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("The campaign must end after it starts."))
        return data
