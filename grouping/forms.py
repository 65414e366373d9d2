"""Forms of the grouping pages. The services check everything; these only carry input."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from grouping.models import NeedsSurvey, QuestionKind, SurveyQuestion


class _OpenChoice(forms.ChoiceField):
    """Leaves checking the choice to the service, which reports every question's problem at once."""

    def valid_value(self, value: Any) -> bool:
        return True


class _OpenMultipleChoice(forms.MultipleChoiceField):
    def valid_value(self, value: Any) -> bool:
        return True


class AnswerForm(forms.Form):
    """The member's survey page: one field per question, named by its key. Whether an answer is
    required or a valid choice is the service's call, so its errors land next to the question."""

    def __init__(self, *args: Any, questions: list[SurveyQuestion], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.questions = questions
        for question in questions:
            choices = [(choice["value"], choice["label"]) for choice in question.choices]
            if question.kind == QuestionKind.MULTIPLE:
                field: forms.Field = _OpenMultipleChoice(
                    label=question.text, choices=choices, widget=forms.CheckboxSelectMultiple, required=False
                )
            elif question.kind == QuestionKind.SINGLE:
                field = _OpenChoice(label=question.text, choices=choices, widget=forms.RadioSelect, required=False)
            else:
                field = forms.CharField(
                    label=question.text, widget=forms.Textarea(attrs={"rows": 3}), max_length=1000, required=False
                )
            self.fields[question.key] = field

    def rows(self) -> list[dict[str, Any]]:
        return [{"field": self[question.key], "question": question} for question in self.questions]

    def answers(self) -> dict[str, Any]:
        return {key: value for key, value in self.cleaned_data.items() if value not in (None, "", [])}


class SurveyForm(forms.Form):
    """The survey editor: title, introduction, open or closed; per question its text, the labels
    of its choices (a choice keeps its value when renamed), which to remove, and new ones."""

    title = forms.CharField(label=_("Title"), max_length=200)
    intro = forms.CharField(label=_("Introduction"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    is_open = forms.BooleanField(label=_("Open for answers"), required=False)

    def __init__(self, *args: Any, survey: NeedsSurvey, questions: list[SurveyQuestion], **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"title": survey.title, "intro": survey.intro, "is_open": survey.is_open})
        super().__init__(*args, **kwargs)
        self.questions = questions
        for question in questions:
            self.fields[f"{question.key}__text"] = forms.CharField(
                label=_("Question"), max_length=300, initial=question.text
            )
            for index, choice in enumerate(question.choices):
                self.fields[f"{question.key}__label_{index}"] = forms.CharField(
                    label=_("Choice"), max_length=50, initial=choice["label"], required=False
                )
                self.fields[f"{question.key}__remove_{index}"] = forms.BooleanField(label=_("Remove"), required=False)
            if question.kind != QuestionKind.TEXT:
                self.fields[f"{question.key}__new"] = forms.CharField(
                    label=_("Add choices, one per line"),
                    widget=forms.Textarea(attrs={"rows": 2}),
                    max_length=3000,
                    required=False,
                )

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "question": question,
                "text": self[f"{question.key}__text"],
                "choices": [
                    {
                        "value": choice["value"],
                        "label": self[f"{question.key}__label_{index}"],
                        "remove": self[f"{question.key}__remove_{index}"],
                    }
                    for index, choice in enumerate(question.choices)
                ],
                "new": self[f"{question.key}__new"] if question.kind != QuestionKind.TEXT else None,
            }
            for question in self.questions
        ]

    def changes(self) -> dict[str, dict[str, Any]]:
        """``questions`` for ``survey_update``."""
        data = self.cleaned_data
        result: dict[str, dict[str, Any]] = {}
        for question in self.questions:
            change: dict[str, Any] = {"text": data[f"{question.key}__text"]}
            if question.kind != QuestionKind.TEXT:
                choices: list[dict[str, str]] = [
                    {"value": choice["value"], "label": data[f"{question.key}__label_{index}"]}
                    for index, choice in enumerate(question.choices)
                    if not data[f"{question.key}__remove_{index}"]
                ]
                choices += [{"label": line} for line in data[f"{question.key}__new"].splitlines() if line.strip()]
                change["choices"] = choices
            result[question.key] = change
        return result


class ThresholdForm(forms.Form):
    min_members = forms.IntegerField(
        label=_("Members needed for a suggestion"),
        min_value=1,
        max_value=100_000,
        help_text=_("A topic becomes a suggestion once this many members ask for it and one will run it."),
    )
