"""The needs survey: made with the article's four questions on first use, edited by operators,
answered by members (on their survey page or through a bot). Answering again updates the
member's one response."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from core.text import has_invalid_characters
from grouping.models import NeedsSurvey, QuestionKind, ResponseSource, SurveyQuestion, SurveyResponse
from grouping.topics import fold, group_attribute
from members.models import Member
from subgroups.models import Community, Group, GroupKind, GroupStatus
from subgroups.rules import find_banned_word

# The keys the analysis reads. Their choice values are fixed too (labels are free to change).
TOPICS, SIZE, FREQUENCY, ADMIN = "topics", "size", "frequency", "admin"
CORE_KEYS = (TOPICS, SIZE, FREQUENCY, ADMIN)
WILLING = "yes"
# The capacity a new group gets from the size its members prefer: the top of the range.
SIZE_CAPACITY = {"lt50": 50, "50_150": 150, "150_300": 300, "300_plus": 500}
LABEL_MAX, TEXT_MAX, CHOICES_MAX, ANSWER_TEXT_MAX = 50, 300, 60, 1000
_UNSET: Any = object()


def _default_questions(community: Community) -> list[dict[str, Any]]:
    """The article's four questions (问卷设计要点), in the language active now."""
    hub_name = community.hub.name if community.hub_id else ""
    topics: list[dict[str, str]] = []
    seen: set[str] = set()
    groups = Group.objects.filter(community=community, kind=GroupKind.INTEREST).exclude(status=GroupStatus.ARCHIVED)
    for group in groups.order_by("tree_id", "lft"):
        attribute = group_attribute(group, hub_name=hub_name)
        if fold(attribute) not in seen:
            seen.add(fold(attribute))
            topics.append({"value": attribute, "label": attribute})
    common = [
        ("career", _("Career development")),
        ("ai_tools", _("AI tools")),
        ("side_projects", _("Side projects")),
        ("reading", _("Reading")),
    ]
    for value, label in common:
        if fold(label) not in seen:
            seen.add(fold(label))
            topics.append({"value": value, "label": label})
    return [
        {
            "key": TOPICS,
            "kind": QuestionKind.MULTIPLE,
            "text": _("Which topics would you most like to discuss in depth? (choose any)"),
            "choices": topics,
        },
        {
            "key": SIZE,
            "kind": QuestionKind.SINGLE,
            "text": _("How many people would you rather talk with?"),
            "choices": [
                {"value": "lt50", "label": _("Fewer than 50")},
                {"value": "50_150", "label": _("50–150")},
                {"value": "150_300", "label": _("150–300")},
                {"value": "300_plus", "label": _("More than 300")},
            ],
        },
        {
            "key": FREQUENCY,
            "kind": QuestionKind.SINGLE,
            "text": _("How many group messages are you happy to get?"),
            "choices": [
                {"value": "several_daily", "label": _("Several times a day")},
                {"value": "daily", "label": _("Once a day")},
                {"value": "few_weekly", "label": _("A few times a week")},
                {"value": "weekly", "label": _("Once a week")},
            ],
        },
        {
            "key": ADMIN,
            "kind": QuestionKind.SINGLE,
            "text": _("Would you be willing to help run a smaller group as its admin?"),
            "choices": [
                {"value": "yes", "label": _("Yes")},
                {"value": "maybe", "label": _("Maybe")},
                {"value": "no", "label": _("No")},
            ],
        },
    ]


def survey_for(*, community: Community) -> NeedsSurvey:
    """The community's needs survey, made with the article's four questions on first use. Two
    requests at once both get the one survey."""
    found = NeedsSurvey.objects.filter(community=community).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            survey = NeedsSurvey.objects.create(
                community=community,
                title=_("Needs survey"),
                intro=_("Help us split the big group into smaller ones around what you care about. It takes a minute."),
            )
            SurveyQuestion.objects.bulk_create(
                SurveyQuestion(survey=survey, position=position, **question)
                for position, question in enumerate(_default_questions(community), start=1)
            )
            return survey
    except IntegrityError:
        return NeedsSurvey.objects.get(community=community)


# --- Answers ------------------------------------------------------------------------------------


def _choice_value(question: SurveyQuestion, raw: Any) -> str | None:
    """A choice by its value, or by its label as people write it (a bot relaying a reply)."""
    if not isinstance(raw, str):
        return None
    for choice in question.choices:
        if raw == choice["value"]:
            return choice["value"]
    wanted = fold(raw)
    for choice in question.choices:
        if wanted and wanted in (fold(choice["label"]), fold(choice["value"])):
            return choice["value"]
    return None


def answers_clean(questions: list[SurveyQuestion], answers: Any) -> dict[str, Any]:
    """Answers as stored: choice values by question key. Every problem is reported at once,
    each under its question's key."""
    if not isinstance(answers, dict):
        raise ApplicationError(_("Answers must be an object keyed by question."), field="answers")
    by_key = {question.key: question for question in questions}
    errors: dict[str, list[str]] = {}
    for key in answers:
        if key not in by_key:
            errors[str(key)[:40]] = [_("There is no question “%(key)s” in this survey.") % {"key": str(key)[:40]}]
    cleaned: dict[str, Any] = {}
    for question in questions:
        raw = answers.get(question.key)
        if question.kind == QuestionKind.MULTIPLE:
            items = raw if isinstance(raw, list) else ([] if raw in (None, "") else [raw])
            values, unknown = [], []
            for item in items:
                value = _choice_value(question, item)
                if value is None:
                    unknown.append(str(item)[:50])
                elif value not in values:
                    values.append(value)
            if unknown:
                errors[question.key] = [
                    _("Not a choice of this question: %(choices)s.") % {"choices": "、".join(unknown[:5])}
                ]
            elif values:
                cleaned[question.key] = values
            elif question.required:
                errors[question.key] = [_("Choose at least one.")]
        elif question.kind == QuestionKind.SINGLE:
            if raw in (None, ""):
                if question.required:
                    errors[question.key] = [_("Choose one.")]
                continue
            value = _choice_value(question, raw)
            if value is None:
                errors[question.key] = [_("“%(answer)s” is not a choice of this question.") % {"answer": str(raw)[:50]}]
            else:
                cleaned[question.key] = value
        else:
            text = raw.strip() if isinstance(raw, str) else ""
            if raw not in (None, "") and not isinstance(raw, str):
                errors[question.key] = [_("Answer with text.")]
            elif len(text) > ANSWER_TEXT_MAX or "\x00" in text:
                errors[question.key] = [_("Keep this to %(max)d characters.") % {"max": ANSWER_TEXT_MAX}]
            elif text:
                cleaned[question.key] = text
            elif question.required:
                errors[question.key] = [_("Please answer this question.")]
    if errors:
        first = next(iter(errors.values()))[0]
        raise ApplicationError(first if len(errors) == 1 else _("Some answers need another look."), fields=errors)
    return cleaned


def response_submit(
    *, survey: NeedsSurvey, member: Member, answers: Any, source: str = ResponseSource.PAGE
) -> tuple[SurveyResponse, bool]:
    """Record a member's answers; a second answer replaces the first. Returns the response and
    whether it is new."""
    if member.community_id != survey.community_id:
        raise ApplicationError(_("The member and the survey belong to different communities."), field="member")
    if not survey.is_open:
        raise ApplicationError(_("This survey is closed."))
    cleaned = answers_clean(list(survey.questions.all()), answers)
    now = timezone.now()
    changed = SurveyResponse.objects.filter(survey=survey, member=member).update(
        answers=cleaned, source=source, updated_at=now
    )
    if not changed:
        try:
            with transaction.atomic():
                response = SurveyResponse.objects.create(
                    survey=survey, member=member, answers=cleaned, source=source, submitted_at=now, updated_at=now
                )
                return response, True
        except IntegrityError:  # the same member's other request got there first: ours is newer
            SurveyResponse.objects.filter(survey=survey, member=member).update(
                answers=cleaned, source=source, updated_at=now
            )
    return SurveyResponse.objects.get(survey=survey, member=member), False


# --- Editing ------------------------------------------------------------------------------------


def _clean_label(value: Any, *, key: str) -> str:
    label = " ".join(value.split()) if isinstance(value, str) else ""
    if not label:
        raise ApplicationError(_("A choice needs a label."), field=key)
    if len(label) > LABEL_MAX or has_invalid_characters(label):
        raise ApplicationError(
            _("Keep each choice to %(max)d printable characters: “%(label)s”.")
            % {"max": LABEL_MAX, "label": label[:60]},
            field=key,
        )
    return label


def _clean_choices(
    question: SurveyQuestion, raw: Any, *, used: set[str], banned_words: list[str]
) -> list[dict[str, str]]:
    key = question.key
    if not isinstance(raw, list):
        raise ApplicationError(_("Choices must be a list."), field=key)
    known = {choice["value"] for choice in question.choices}
    cleaned: list[dict[str, str]] = []
    for item in raw:
        if isinstance(item, str):
            item = {"label": item}
        if not isinstance(item, dict):
            raise ApplicationError(_("Each choice is a label, or an object with a label."), field=key)
        label = _clean_label(item.get("label"), key=key)
        value = item.get("value")
        if value in (None, ""):
            value = label  # a new choice is stored as it reads
        elif not isinstance(value, str) or value not in known:
            raise ApplicationError(
                _("Unknown choice value “%(value)s”: leave the value out to add a choice.")
                % {"value": str(value)[:50]},
                field=key,
            )
        if key == TOPICS:
            # A topic may become a group's name: the community's banned words apply.
            word = find_banned_word(label, banned_words)
            if word:
                raise ApplicationError(
                    _("“%(label)s” would name a group with “%(word)s”, a banned word.")
                    % {"label": label, "word": word},
                    field=key,
                )
        if any(fold(label) == fold(other["label"]) or value == other["value"] for other in cleaned):
            raise ApplicationError(_("“%(label)s” is listed twice.") % {"label": label}, field=key)
        cleaned.append({"value": value, "label": label})
    if question.kind != QuestionKind.TEXT and len(cleaned) < 2:
        raise ApplicationError(_("A choice question needs at least two choices."), field=key)
    if len(cleaned) > CHOICES_MAX:
        raise ApplicationError(_("At most %(max)d choices.") % {"max": CHOICES_MAX}, field=key)
    removed = known - {choice["value"] for choice in cleaned}
    answered = sorted(removed & used)
    if answered:
        labels = question.labels
        raise ApplicationError(
            _("Members chose %(choices)s: rename it rather than remove it.")
            % {"choices": "、".join(labels.get(value, value) for value in answered)},
            field=key,
        )
    return cleaned


def _values_used(survey: NeedsSurvey, key: str) -> set[str]:
    used: set[str] = set()
    for answers in SurveyResponse.objects.filter(survey=survey).values_list("answers", flat=True):
        value = answers.get(key) if isinstance(answers, dict) else None
        used.update(value if isinstance(value, list) else [value] if isinstance(value, str) else [])
    return used


@transaction.atomic
def survey_update(
    *,
    survey: NeedsSurvey,
    title: str = _UNSET,
    intro: str = _UNSET,
    is_open: bool = _UNSET,
    min_members: int = _UNSET,
    questions: dict[str, dict[str, Any]] = _UNSET,
) -> NeedsSurvey:
    """Change the survey: its title and introduction, open or closed, the suggestion threshold,
    and questions' texts and choices (``{key: {"text": …, "choices": [{"value"?, "label"}]}}``).
    A choice keeps its value when renamed; a choice members chose cannot be removed."""
    survey = NeedsSurvey.objects.select_for_update().select_related("community").get(pk=survey.pk)
    if title is not _UNSET:
        title = " ".join(title.split()) if isinstance(title, str) else ""
        if not title or len(title) > 200 or has_invalid_characters(title):
            raise ApplicationError(_("Give the survey a title of up to 200 characters."), field="title")
        survey.title = title
    if intro is not _UNSET:
        intro = (intro or "").strip() if isinstance(intro, str) else None
        if intro is None or len(intro) > 2000 or "\x00" in intro:
            raise ApplicationError(_("Keep the introduction to 2000 characters."), field="intro")
        survey.intro = intro
    if is_open is not _UNSET:
        survey.is_open = bool(is_open)
    if min_members is not _UNSET:
        if isinstance(min_members, bool) or not isinstance(min_members, int) or not 1 <= min_members <= 100_000:
            raise ApplicationError(_("A whole number from 1 to 100,000."), field="min_members")
        survey.min_members = min_members
    if questions is not _UNSET:
        if not isinstance(questions, dict):
            raise ApplicationError(_("Questions must be an object keyed by question."), field="questions")
        by_key = {question.key: question for question in survey.questions.all()}
        for key, change in questions.items():
            question = by_key.get(key)
            if question is None:
                raise ApplicationError(_("There is no question “%(key)s”.") % {"key": str(key)[:40]}, field="questions")
            if not isinstance(change, dict):
                raise ApplicationError(_("Describe each question with an object."), field=key)
            if "text" in change:
                text = " ".join(change["text"].split()) if isinstance(change["text"], str) else ""
                if not text or len(text) > TEXT_MAX or has_invalid_characters(text):
                    raise ApplicationError(
                        _("A question needs a text of up to %(max)d characters.") % {"max": TEXT_MAX}, field=key
                    )
                question.text = text
            if "choices" in change:
                if question.kind == QuestionKind.TEXT:
                    raise ApplicationError(_("A text question has no choices."), field=key)
                question.choices = _clean_choices(
                    question,
                    change["choices"],
                    used=_values_used(survey, key),
                    banned_words=survey.community.banned_name_words,
                )
            question.save()
    survey.save()
    return survey
