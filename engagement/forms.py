from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from engagement.models import Level
from engagement.services.points import MAX_POINTS
from engagement.services.shop import MAX_COST


class RulesForm(forms.Form):
    check_in = forms.IntegerField(label=_("Check-in"), min_value=0, max_value=MAX_POINTS)
    post = forms.IntegerField(label=_("Published post"), min_value=0, max_value=MAX_POINTS)
    featured_post = forms.IntegerField(label=_("Featured post"), min_value=0, max_value=MAX_POINTS)
    invite_accepted = forms.IntegerField(label=_("Invitation accepted"), min_value=0, max_value=MAX_POINTS)
    event_organised = forms.IntegerField(label=_("Event organised"), min_value=0, max_value=MAX_POINTS)
    streak_days = forms.IntegerField(
        label=_("Streak length, days"), min_value=1, max_value=365, help_text=_("A bonus at every multiple.")
    )
    streak_bonus = forms.IntegerField(label=_("Streak reward"), min_value=0, max_value=MAX_POINTS)


class LevelForm(forms.Form):
    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(label=_("Level"), max_length=50, required=False)
    threshold = forms.IntegerField(label=_("Points earned"), min_value=0, max_value=1_999_999_999, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        # An empty extra row is no row; a half-filled one is an error.
        if not data.get("DELETE") and (data.get("name") or data.get("threshold") is not None):
            if not data.get("name"):
                self.add_error("name", _("Every level needs a name."))
            if data.get("threshold") is None:
                self.add_error("threshold", _("How many points?"))
        return data


LevelFormSet = forms.formset_factory(LevelForm, extra=1, can_delete=True, max_num=30, validate_max=True)


class RewardForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    cost = forms.IntegerField(label=_("Cost in points"), min_value=1, max_value=MAX_COST)
    stock = forms.IntegerField(label=_("Stock"), min_value=0, max_value=10_000_000, required=False,
                               help_text=_("Empty: unlimited."))  # fmt: skip
    per_member_limit = forms.IntegerField(
        label=_("Per member"), min_value=1, max_value=1000, required=False, help_text=_("Empty: no limit.")
    )
    requires_level = forms.ModelChoiceField(
        label=_("Level needed"), queryset=Level.objects.none(), required=False, empty_label=_("Any level")
    )
    requires_streak = forms.IntegerField(
        label=_("Streak needed, days"), min_value=0, max_value=3650, initial=0,
        help_text=_("Unlocked once the member has checked in this many days in a row (0: no need)."),
    )  # fmt: skip
    is_active = forms.BooleanField(label=_("On sale"), required=False, initial=True)

    def __init__(self, *args: Any, levels, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["requires_level"].queryset = levels


class OrganisedEventForm(forms.Form):
    group = forms.ModelChoiceField(label=_("Group"), queryset=None)
    organiser = forms.CharField(
        label=_("Organiser"), max_length=100, help_text=_("The member's exact name, or their id.")
    )
    title = forms.CharField(label=_("Title"), max_length=200)
    held_on = forms.DateField(label=_("Held on"), widget=forms.DateInput(attrs={"type": "date"}))
    attendees = forms.IntegerField(label=_("Attendees"), min_value=0, max_value=100_000, initial=0)

    def __init__(self, *args: Any, groups, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups


class MemberSearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[("name", _("Name")), ("balance", _("Balance")), ("lifetime", _("Points earned"))],
    )
