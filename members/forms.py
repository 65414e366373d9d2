from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from members.models import (
    ApplicationStatus,
    KnockoutAction,
    KnockoutOperator,
    Question,
    QuestionKind,
    Role,
)
from members.services.funnel import question_field
from subgroups.forms import GroupChoiceField, split_words
from subgroups.models import LANGUAGES, SUBGROUP_KINDS, Group, LifecycleStage, Platform


class ApplicationForm(forms.Form):
    """The public application form: who you are, how to reach you, and the group's questions.
    Which questions are required is decided with the logic jumps, by the service."""

    display_name = forms.CharField(label=_("Your name"), max_length=100)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    city = forms.CharField(label=_("City"), max_length=50, required=False)
    platform = forms.ChoiceField(label=_("Your account on"), choices=[("", "—"), *Platform.choices], required=False)
    external_user_id = forms.CharField(label=_("Account id"), max_length=128, required=False)
    # A honeypot: hidden from people, irresistible to form-filling bots.
    website = forms.CharField(required=False, label=_("Leave this empty"))

    def __init__(self, *args: Any, questions: list[Question], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.questions = questions
        for question in questions:
            self.fields[question_field(question)] = self._field_for(question)

    @staticmethod
    def _field_for(question: Question) -> forms.Field:
        label = question.text
        choices = [(choice, choice) for choice in question.choices]
        if question.kind == QuestionKind.SINGLE:
            return forms.ChoiceField(label=label, choices=choices, widget=forms.RadioSelect, required=False)
        if question.kind == QuestionKind.MULTIPLE:
            return forms.MultipleChoiceField(
                label=label, choices=choices, widget=forms.CheckboxSelectMultiple, required=False
            )
        if question.kind == QuestionKind.NUMBER:
            return forms.FloatField(label=label, required=False)
        return forms.CharField(label=label, widget=forms.Textarea(attrs={"rows": 2}), max_length=1000, required=False)

    def question_rows(self) -> list[dict[str, Any]]:
        """Each question's field with what the page needs for logic jumps."""
        return [
            {
                "field": self[question_field(question)],
                "question": question,
                "show_if": f"q_{question.show_if_question_id}" if question.show_if_question_id else "",
                "show_values": json.dumps(question.show_if_answers, ensure_ascii=False),
            }
            for question in self.questions
        ]

    def personal_fields(self) -> list:
        return [self[name] for name in ("display_name", "phone", "email", "city", "platform", "external_user_id")]

    def answers(self) -> dict[str, Any]:
        return {
            question_field(question): self.cleaned_data.get(question_field(question)) for question in self.questions
        }


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=1000, widget=forms.TextInput())


class QueueFilterForm(forms.Form):
    group = GroupChoiceField(
        label=_("Group"), queryset=Group.objects.none(), required=False, empty_label=_("All my groups")
    )
    status = forms.ChoiceField(label=_("Status"), choices=[("", _("Any")), *ApplicationStatus.choices], required=False)
    age = forms.ChoiceField(
        label=_("Waiting"),
        choices=[("", _("Any time")), ("1d", _("Under a day")), ("3d", _("1–3 days")), ("older", _("Over 3 days"))],
        required=False,
    )

    def __init__(self, *args: Any, groups, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups


class MemberFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    group = GroupChoiceField(label=_("Group"), queryset=Group.objects.none(), required=False, empty_label=_("Any"))
    role = forms.ChoiceField(label=_("Role"), choices=[("", _("Any")), *Role.choices], required=False)
    tag = forms.CharField(label=_("Tag"), required=False, max_length=30)
    city = forms.CharField(label=_("City"), required=False, max_length=50)

    def __init__(self, *args: Any, groups, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups


class MemberForm(forms.Form):
    display_name = forms.CharField(label=_("Name"), max_length=100)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    city = forms.CharField(label=_("City"), max_length=50, required=False)
    language = forms.ChoiceField(
        label=_("Language"),
        choices=[("", _("The community's")), *LANGUAGES],
        required=False,
        help_text=_("What Canopy sends this member is written in this language."),
    )
    purchase_count = forms.IntegerField(label=_("Purchases"), min_value=0, max_value=100_000)
    annual_member = forms.BooleanField(label=_("Annual member"), required=False)
    lifecycle_stage = forms.ChoiceField(
        label=_("Lifecycle stage"), choices=[("", "—"), *LifecycleStage.choices], required=False
    )
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separate with commas or 、"))
    notes = forms.CharField(label=_("Notes"), widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def service_values(self) -> dict[str, Any]:
        values = dict(self.cleaned_data)
        values["tags"] = split_words(values["tags"])
        return values


class MembershipForm(forms.Form):
    group = GroupChoiceField(label=_("Group"), queryset=Group.objects.none())
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.MEMBER)

    def __init__(self, *args: Any, groups, roles=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups
        if roles is not None:
            self.fields["role"].choices = [choice for choice in Role.choices if choice[0] in roles]


class LiveCodeForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("e.g. 摄影小群活码"))
    parent = GroupChoiceField(label=_("Groups sit under"), queryset=Group.objects.none())
    attribute = forms.CharField(
        label=_("Attribute"), max_length=40, help_text=_("Names new groups <hub>-<attribute>小群<NN>, e.g. 摄影.")
    )
    kind = forms.ChoiceField(label=_("Kind of new groups"), choices=SUBGROUP_KINDS, initial="interest")
    join_limit = forms.IntegerField(
        label=_("Route while fewer than"),
        min_value=1,
        max_value=1_000_000,
        required=False,
        help_text=_("Empty: 200 for WeChat groups (where scan-to-join stops), otherwise the capacity."),
    )
    max_groups = forms.IntegerField(label=_("At most this many groups"), min_value=1, max_value=99, initial=10)
    guide = forms.CharField(
        label=_("Guide for new groups"),
        max_length=128,
        required=False,
        help_text=_("Name or account id of the member who guides each group the code opens."),
    )

    def __init__(self, *args: Any, groups, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = groups


class JoinForm(forms.Form):
    display_name = forms.CharField(label=_("Your name"), max_length=100)
    website = forms.CharField(required=False, label=_("Leave this empty"))  # a honeypot, like the application form


class QuestionForm(forms.Form):
    text = forms.CharField(label=_("Question"), max_length=300)
    kind = forms.ChoiceField(label=_("Kind"), choices=QuestionKind.choices)
    required = forms.BooleanField(label=_("Required"), required=False)
    choices = forms.CharField(
        label=_("Choices"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text=_("One per line, for choice questions."),
    )
    show_if_question = forms.ModelChoiceField(
        label=_("Ask only if"), queryset=Question.objects.none(), required=False, empty_label=_("Always ask")
    )
    show_if_answers = forms.CharField(
        label=_("… was answered"), required=False, help_text=_("Answers of that question, separated by commas.")
    )

    def __init__(self, *args: Any, group: Group, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["show_if_question"].queryset = group.questions.filter(
            kind__in=[QuestionKind.SINGLE, QuestionKind.MULTIPLE]
        )

    def service_values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "text": data["text"],
            "kind": data["kind"],
            "required": data["required"],
            "choices": [line.strip() for line in data["choices"].splitlines() if line.strip()],
            "show_if_question": data["show_if_question"],
            "show_if_answers": split_words(data["show_if_answers"]),
        }


class RuleForm(forms.Form):
    operator = forms.ChoiceField(label=_("When the answer"), choices=KnockoutOperator.choices)
    value = forms.CharField(
        label=_("Value"), max_length=200, help_text=_("Answers separated by commas, a number, or text.")
    )
    action = forms.ChoiceField(label=_("Then"), choices=KnockoutAction.choices)
    reason = forms.CharField(label=_("Reason"), max_length=200)

    def service_value(self) -> Any:
        value = self.cleaned_data["value"]
        if self.cleaned_data["operator"] == KnockoutOperator.ANY_OF:
            return split_words(value)
        return value


class AssessmentForm(forms.Form):
    member = forms.ModelChoiceField(label=_("Admin"), queryset=None)
    month = forms.DateField(label=_("Month"), widget=forms.DateInput(attrs={"type": "month"}), input_formats=["%Y-%m"])
    activity_score = forms.IntegerField(label=_("Activity (0–100)"), min_value=0, max_value=100)
    dispute_score = forms.IntegerField(label=_("Dispute handling (0–100)"), min_value=0, max_value=100)
    notes = forms.CharField(label=_("Notes"), required=False, max_length=2000)

    def __init__(self, *args: Any, staff, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = staff
