from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

_MONTH = {"widget": forms.DateInput(attrs={"type": "month"}, format="%Y-%m"), "input_formats": ["%Y-%m"]}


class RoundForm(forms.Form):
    month = forms.DateField(label=_("Month"), **_MONTH)
    days = forms.IntegerField(label=_("Open for (days)"), min_value=1, max_value=60, initial=7)
    threshold_hours = forms.FloatField(
        label=_("Online hours a week, at least"), min_value=0.5, max_value=168, initial=15,
        help_text=_("Average over the last 4 complete weeks."),
    )  # fmt: skip
    threshold_recognition = forms.IntegerField(
        label=_("Peer recognition, at least (%)"), min_value=1, max_value=100, initial=80
    )
    min_votes = forms.IntegerField(label=_("Votes needed, at least"), min_value=1, max_value=1000, initial=5)
    note = forms.CharField(label=_("Note"), required=False, max_length=300)


class MonthForm(forms.Form):
    month = forms.DateField(label=_("Month"), **_MONTH)


class RotationForm(forms.Form):
    month = forms.DateField(label=_("Ranked on the month"), **_MONTH)
    top = forms.IntegerField(label=_("How many guides"), min_value=1, max_value=20, initial=3)
