"""Each group's screening questionnaire (入群问卷): questions, logic jumps, knockout rules."""

from __future__ import annotations

import math
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from core.text import has_invalid_characters, json_has_invalid_text
from members.models import KnockoutAction, KnockoutOperator, KnockoutRule, Question, QuestionKind
from subgroups.models import Group

_UNSET: Any = object()


def _clean_text(text: str) -> str:
    text = " ".join((text or "").split())
    if not text or len(text) > 300 or has_invalid_characters(text):
        raise ApplicationError(_("Ask the question in 1 to 300 characters."), field="text")
    return text


def _clean_choices(kind: str, choices: Any) -> list[str]:
    if kind not in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
        return []
    if not isinstance(choices, (list, tuple)) or not all(isinstance(choice, str) for choice in choices):
        raise ApplicationError(_("Choices are a list of answers."), field="choices")
    cleaned: list[str] = []
    for choice in choices:
        choice = " ".join(choice.split())
        if choice and choice not in cleaned:
            if len(choice) > 100 or has_invalid_characters(choice):
                raise ApplicationError(_("Each choice is 100 characters at most."), field="choices")
            cleaned.append(choice)
    if not 2 <= len(cleaned) <= 30:
        raise ApplicationError(_("A choice question needs 2 to 30 different answers."), field="choices")
    return cleaned


def _clean_jump(
    question_group: Group, show_if: Question | None, answers: Any, position: int
) -> tuple[Question | None, list]:
    if show_if is None:
        return None, []
    if show_if.group_id != question_group.pk:
        raise ApplicationError(_("A logic jump depends on a question of the same group."), field="show_if_question")
    if not show_if.is_choice:
        raise ApplicationError(_("A logic jump depends on a choice question."), field="show_if_question")
    if show_if.position >= position:
        raise ApplicationError(_("A logic jump depends on an earlier question."), field="show_if_question")
    if not isinstance(answers, (list, tuple)) or not answers or not set(answers) <= set(show_if.choices):
        raise ApplicationError(_("Pick the answers of that question that show this one."), field="show_if_answers")
    return show_if, [choice for choice in show_if.choices if choice in answers]


@transaction.atomic
def question_create(
    *,
    group: Group,
    text: str,
    kind: str,
    required: bool = False,
    choices: list[str] = (),
    show_if_question: Question | None = None,
    show_if_answers: list[str] = (),
) -> Question:
    if kind not in QuestionKind.values:
        raise ApplicationError(_("Choose the kind of question."), field="kind")
    position = (group.questions.aggregate(last=Max("position"))["last"] or 0) + 1
    show_if_question, show_if_answers = _clean_jump(group, show_if_question, list(show_if_answers), position)
    return Question.objects.create(
        group=group,
        position=position,
        text=_clean_text(text),
        kind=kind,
        required=bool(required),
        choices=_clean_choices(kind, list(choices)),
        show_if_question=show_if_question,
        show_if_answers=show_if_answers,
    )


@transaction.atomic
def question_delete(*, question: Question) -> None:
    """Questions that depend on it lose their jump and are always asked."""
    Question.objects.filter(show_if_question=question).update(show_if_question=None, show_if_answers=[])
    question.delete()


@transaction.atomic
def rule_create(*, question: Question, operator: str, value: Any, action: str, reason: str) -> KnockoutRule:
    if operator not in KnockoutOperator.values:
        raise ApplicationError(_("Choose how to compare the answer."), field="operator")
    if action not in KnockoutAction.values:
        raise ApplicationError(_("Choose approve or reject."), field="action")
    if json_has_invalid_text(value):
        raise ApplicationError(_("The value contains characters that cannot be shown."), field="value")
    if operator == KnockoutOperator.ANY_OF:
        values = value if isinstance(value, list) else [value]
        if not question.is_choice or not values or not set(values) <= set(question.choices):
            raise ApplicationError(_("Pick answers this question offers."), field="value")
        value = [choice for choice in question.choices if choice in values]
    elif operator in (KnockoutOperator.AT_LEAST, KnockoutOperator.LESS_THAN):
        if question.kind != QuestionKind.NUMBER:
            raise ApplicationError(_("Compare numbers only on a number question."), field="operator")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ApplicationError(_("Enter a number."), field="value") from None
        if not math.isfinite(value) or abs(value) > 1e9:
            raise ApplicationError(_("Enter a number."), field="value")
        value = int(value) if value.is_integer() else value
    else:
        if question.kind != QuestionKind.TEXT or not isinstance(value, str) or not value.strip():
            raise ApplicationError(_("Look for text only in a text question."), field="value")
        value = value.strip()[:100]
    reason = " ".join((reason or "").split())
    if not reason or len(reason) > 200 or has_invalid_characters(reason):
        raise ApplicationError(_("Give the reason recorded with the decision."), field="reason")
    return KnockoutRule.objects.create(question=question, operator=operator, value=value, action=action, reason=reason)


def rule_delete(*, rule: KnockoutRule) -> None:
    rule.delete()


# The source article's four questions (seeds/000), for a new questionnaire.
ARTICLE_QUESTIONS = (
    ("您最希望深入交流哪方面内容？", QuestionKind.MULTIPLE, ["产品", "技术", "运营", "设计", "摄影", "职业发展"]),
    ("您更倾向多少人的交流规模？", QuestionKind.SINGLE, ["50人以内", "50-150人", "150-500人"]),
    ("您可接受的群消息频率是？", QuestionKind.SINGLE, ["每天几条", "每天几十条", "不限"]),
    ("您是否愿意担任小群管理员？", QuestionKind.SINGLE, ["愿意", "看情况", "不愿意"]),
)


@transaction.atomic
def questionnaire_add_article_questions(*, group: Group) -> list[Question]:
    return [
        question_create(group=group, text=text, kind=kind, required=True, choices=choices)
        for text, kind, choices in ARTICLE_QUESTIONS
    ]
