from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from analytics.models import RiskBand, Segment
from recall.models import CallOutcome, Channel, CouponPool, ExitReason, GiftKind
from recall.services.messages import PLACEHOLDERS

_PLACEHOLDER_HELP = _("Placeholders: %(names)s.") % {"names": ", ".join("{" + name + "}" for name in PLACEHOLDERS)}


class PolicyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    quiet_start = forms.TimeField(label=_("Quiet hours from"), required=False, help_text=_("Local time, e.g. 22:00."))
    quiet_end = forms.TimeField(label=_("Quiet hours until"), required=False, help_text=_("e.g. 08:00"))
    monthly_cap = forms.IntegerField(
        label=_("Messages per member per 30 days"), min_value=1, max_value=100, initial=4,
        help_text=_("Across all recall policies; phone calls do not count. WeCom allows 4 broadcasts a month."),
    )  # fmt: skip
    recovery_days = forms.IntegerField(label=_("Recovery window, days"), min_value=1, max_value=90, initial=14)
    point_value = forms.DecimalField(
        label=_("Cost of one point (¥)"), min_value=0, max_value=9999, decimal_places=4, initial="0.01"
    )


class StageForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    days_silent = forms.IntegerField(label=_("Days silent"), min_value=1, max_value=3650)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    template = forms.CharField(
        label=_("Message"), widget=forms.Textarea(attrs={"rows": 4}), help_text=_PLACEHOLDER_HELP
    )
    template_b = forms.CharField(
        label=_("Message, variant B"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Optional: half the members get this one, and the overview compares the two."),
    )  # fmt: skip
    segments = forms.MultipleChoiceField(
        label=_("Only these segments"), choices=Segment.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    risk_bands = forms.MultipleChoiceField(
        label=_("Only these risk bands"),
        choices=[(value, label) for value, label in RiskBand.choices if value],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    include_digest = forms.BooleanField(label=_("Include what they missed ({digest})"), required=False)
    gift_kind = forms.ChoiceField(label=_("Gift"), choices=GiftKind.choices, required=False)
    gift_points = forms.IntegerField(
        label=_("Points bonus"), min_value=0, max_value=1_000_000, required=False, initial=0
    )
    coupon_pool = forms.ModelChoiceField(label=_("Coupon pool"), queryset=CouponPool.objects.none(), required=False)
    privilege = forms.CharField(label=_("Returning-member privilege"), max_length=200, required=False)
    wait_days = forms.IntegerField(label=_("Wait before the next stage, days"), min_value=0, max_value=365, initial=7)

    def __init__(self, *args: Any, pools, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["coupon_pool"].queryset = pools


class PoolForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    value = forms.DecimalField(label=_("Value per coupon (¥)"), min_value=0, max_value=99_999_999, decimal_places=2)


class CodesForm(forms.Form):
    codes = forms.CharField(
        label=_("Codes"), widget=forms.Textarea(attrs={"rows": 4}), help_text=_("One per line, or separated by commas.")
    )


class CallForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=CallOutcome.choices, widget=forms.RadioSelect)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)
    opt_out = forms.BooleanField(label=_("Asked not to be contacted again"), required=False)


class ExitForm(forms.Form):
    reasons = forms.MultipleChoiceField(
        label=_("Why did you leave?"), choices=ExitReason.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    other_text = forms.CharField(
        label=_("In your words"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
