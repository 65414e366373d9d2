"""Grouping tests: the community of tests/conftest.py (hub 互联网从业者交流群 with 设计美学交流群,
its child 摄影群, and 程序员技术群), members who answer the needs survey, and helpers."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from grouping.models import NeedsSurvey
from grouping.services.surveys import response_submit, survey_for, survey_update
from members.models import Member
from members.services import people
from subgroups.models import Community, Group
from tests.personas import (  # noqa: F401 - fixtures
    coders,
    design,
    owner,
    personas,
    photo,
    plain_member,
    sibling_admin,
    subtree_admin,
)

_ids = itertools.count(1)


@pytest.fixture
def survey(community) -> NeedsSurvey:
    return survey_for(community=community)


def member_in(group: Group, *, name: str | None = None, handle: str | None = None, **fields) -> Member:
    """A new member of the community, in ``group`` (and so counted as active)."""
    member = people.member_create(community=group.community, display_name=name or f"成员{next(_ids):03d}", **fields)
    people.memberships_import(group=group, members=[member])
    if handle:
        people.handle_add(member=member, platform=group.platform, external_id=handle)
    return member


def answer(survey: NeedsSurvey, member: Member, topics: list[str], size="50_150", frequency="daily", admin="no"):
    return response_submit(
        survey=survey, member=member, answers={"topics": topics, "size": size, "frequency": frequency, "admin": admin}
    )[0]


def with_topic(survey: NeedsSurvey, label: str) -> NeedsSurvey:
    """The survey with one more topic (as an operator adds it)."""
    question = survey.questions.get(key="topics")
    choices: list[dict[str, Any]] = [*question.choices, {"label": label}]
    return survey_update(survey=survey, questions={"topics": {"choices": choices}})


def hub_of(community: Community) -> Group:
    return Group.objects.get(pk=community.hub_id)
