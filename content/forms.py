from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from content.models import MatchMode, PostKind, WordAction, WordCategory
from content.services.posts import MEMBER_KINDS
from outbox.keys import BRIDGE_SCOPES, SCOPES
from subgroups.forms import GroupChoiceField
from subgroups.models import Group

WEEKDAYS = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]


class PostForm(forms.Form):
    group = GroupChoiceField(label=_("Group"), queryset=Group.objects.none())
    kind = forms.ChoiceField(label=_("Kind"), choices=PostKind.choices)
    title = forms.CharField(label=_("Title"), max_length=200)
    body = forms.CharField(
        label=_("Body"), widget=forms.Textarea(attrs={"rows": 8}), help_text=_("Markdown: **bold**, lists, links.")
    )

    def __init__(self, *args: Any, groups, staff: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups
        if not staff:
            self.fields["kind"].choices = [choice for choice in PostKind.choices if choice[0] in MEMBER_KINDS]
        else:
            self.fields["kind"].choices = [choice for choice in PostKind.choices if choice[0] != PostKind.DIGEST]


class ReviewNoteForm(forms.Form):
    note = forms.CharField(label=_("Note"), max_length=2000, required=False)


class WordForm(forms.Form):
    word = forms.CharField(label=_("Word"), max_length=100)
    category = forms.ChoiceField(label=_("Category"), choices=WordCategory.choices)
    action = forms.ChoiceField(
        label=_("Action"), choices=[("", _("The category's")), *WordAction.choices], required=False
    )


class AllowedForm(forms.Form):
    term = forms.CharField(label=_("Allowed term"), max_length=100, help_text=_("e.g. 打击赌博, which contains 赌博."))


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV or TXT file"))
    category = forms.ChoiceField(
        label=_("Category for TXT lines"), choices=WordCategory.choices, initial=WordCategory.CUSTOM
    )


class ScanForm(forms.Form):
    text = forms.CharField(label=_("Try a text"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)


class DigestForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    body = forms.CharField(label=_("Body"), widget=forms.Textarea(attrs={"rows": 12}))


class ScheduleForm(forms.Form):
    group = GroupChoiceField(label=_("Group"), queryset=Group.objects.none())
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[choice for choice in PostKind.choices if choice[0] != PostKind.DIGEST]
    )
    title = forms.CharField(label=_("Title"), max_length=200)
    body = forms.CharField(label=_("Body"), widget=forms.Textarea(attrs={"rows": 4}))
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Days"), choices=WEEKDAYS, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    time = forms.TimeField(label=_("Time"), widget=forms.TimeInput(attrs={"type": "time"}))

    def __init__(self, *args: Any, groups, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups


class AutoReplyForm(forms.Form):
    group = GroupChoiceField(label=_("Group"), queryset=Group.objects.none())
    keyword = forms.CharField(label=_("Keyword"), max_length=100)
    match = forms.ChoiceField(label=_("When"), choices=MatchMode.choices, initial=MatchMode.CONTAINS)
    reply = forms.CharField(label=_("Reply"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)
    priority = forms.IntegerField(label=_("Priority"), min_value=-100, max_value=100, initial=0)

    def __init__(self, *args: Any, groups, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups


class IntegrationForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    platform = forms.ChoiceField(label=_("Platform"), required=False)
    webhook_url = forms.URLField(
        assume_scheme="https",
        max_length=200,
        label=_("Webhook URL"),
        required=False,
        help_text=_("Empty: the bot polls /api/v1/outbox/ instead."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from subgroups.models import Platform

        super().__init__(*args, **kwargs)
        self.fields["platform"].choices = [("", _("Every platform")), *Platform.choices]


class IntegrationKeyForm(forms.Form):
    EXPIRY_CHOICES = [("", _("Never")), ("30", _("In 30 days")), ("90", _("In 90 days")), ("365", _("In a year"))]

    integration = forms.ModelChoiceField(label=_("Integration"), queryset=None, empty_label=None)
    name = forms.CharField(
        label=_("Key name"), max_length=100, help_text=_("Where it is used, e.g. “Telegram bridge”.")
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only what the bot needs. A bridge carrying a chat needs the ones ticked."),
    )
    expires_in = forms.ChoiceField(label=_("Expires"), choices=EXPIRY_CHOICES, required=False)

    def __init__(self, *args: Any, integrations, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["integration"].queryset = integrations
        self.fields["scopes"].choices = [(scope, f"{scope}: {label}") for scope, label in SCOPES.items()]
        self.fields["scopes"].initial = list(BRIDGE_SCOPES)

    def expires_at(self):
        days = self.cleaned_data.get("expires_in")
        return timezone.now() + timedelta(days=int(days)) if days else None


class WelcomeForm(forms.Form):
    welcome_template = forms.CharField(
        label=_("Welcome message"),
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        help_text=_("Use {name}, {group} and {rules}. Empty: the default welcome."),
    )
