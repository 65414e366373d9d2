"""Fission in the demo: members share their invitation links and friends come in through the
real flows, over the last eight weeks.

Some members are picked as inviters; each brings one to six friends (most bring one or two, a
few bring many), who apply through the inviter's link (answering the group's questionnaire;
an admin approves what no rule decided; they accept) or scan a live code from it. A few
referrals are what the checks exist for: a second account of the inviter, a newcomer using an
existing member's phone, a member who was already in. A campaign "邀请3位好友解锁《豆瓣高分书单》"
runs over the last month. Then ``referrals_credit`` gives every join its verdict, pays the
inviters and completes the invite tasks, as beat would have.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import ApplicationError
from fission import selectors
from fission.models import InviteTaskCompletion, Referral
from fission.services.campaigns import campaign_save
from fission.services.referrals import referrals_credit
from members.models import (
    Application,
    LiveCode,
    Member,
    Membership,
    MembershipStatus,
    PlatformHandle,
    QuestionKind,
)
from members.services import funnel, livecodes
from members.services.referrals import member_invite_code
from subgroups.models import Community, Group, GroupStatus

DAYS = 56
FRIENDS = (1, 2, 3, 4, 5, 6)
FRIEND_WEIGHTS = (38, 27, 16, 10, 6, 3)  # mean ≈ 2.3 friends per inviter; a few bring many
LIVE_CODE_SHARE = 0.4  # of friends, where the community has a live code
SELF_INVITES, DUPLICATES, ALREADY_IN = 2, 3, 2
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚英华玉萍红"
    "玲芬燕春兰洁梅琳云雪荣佳嘉琦晶妍婷颖瑶怡丹蓉君琴"
    "薇梦岚馨悦冰宁欣晓枫宇浩然子轩思远一诺梓涵雨桐"
)


@transaction.atomic
def fission_demo(*, community: Community, rng: random.Random) -> str:
    """Referrals, a campaign and its completions for ``community``; returns a one-line summary."""
    now = timezone.now()
    world = _World(community, rng, now)
    if not world.groups:
        return "fission: no sub-group takes applications"
    campaign = campaign_save(
        community=community,
        name="邀请3位好友解锁《豆瓣高分书单》",
        starts_at=now - timedelta(days=30),
        ends_at=now + timedelta(days=14),
        goal_invites=3,
        reward_text="《豆瓣高分书单》",
        reward_points=50,
        reward_url="https://book.douban.com/top250",
    )
    inviters = world.inviters()
    for inviter in inviters:
        member_invite_code(member=inviter)
        for _friend in range(rng.choices(FRIENDS, weights=FRIEND_WEIGHTS)[0]):
            world.bring_friend(inviter, at=now - timedelta(seconds=rng.randrange(DAYS * 86400)))
    world.checks_at_work(inviters)
    result = referrals_credit(community=community, now=now)

    figures = selectors.totals(Referral.objects.filter(community=community))
    completions = InviteTaskCompletion.objects.filter(campaign=campaign).count()
    coefficient = f"{figures['coefficient']:.2f}" if figures["coefficient"] is not None else "–"
    return (
        f"fission: {figures['new_members']} new members from {figures['inviters']} inviters "
        f"(coefficient {coefficient}), {figures['rejected']} rejected, {completions} invite tasks completed, "
        f"{result.get('points', 0)} points paid"
    )


class _World:
    """The demo's stand-in for the people outside: who shares a link, who comes through it."""

    def __init__(self, community: Community, rng: random.Random, now: datetime) -> None:
        self.community, self.rng, self.now = community, rng, now
        self.groups = list(
            Group.objects.filter(community=community, parent__isnull=False, member_count__lt=F("capacity") - 20)
            .exclude(status=GroupStatus.ARCHIVED)
            .prefetch_related("questions")
            .order_by("tree_id", "lft")
        )
        self.live_codes = list(LiveCode.objects.filter(community=community, is_active=True).order_by("pk"))
        self.phones: set[str] = set()

    # --- People ---------------------------------------------------------------------------------

    def inviters(self) -> list[Member]:
        """Members of some sub-group: one for every 200 members of the community (8 to 20)."""
        candidates = list(
            Member.objects.filter(
                community=self.community,
                memberships__status=MembershipStatus.ACTIVE,
                memberships__group__parent__isnull=False,
            )
            .distinct()
            .order_by("pk")
        )
        size = Member.objects.filter(community=self.community).count()
        count = min(len(candidates), max(8, min(20, size // 200)))
        return self.rng.sample(candidates, k=count)

    def _name(self) -> str:
        return self.rng.choice(_SURNAMES) + "".join(self.rng.choice(_GIVEN) for _ in range(self.rng.choice((1, 2))))

    def _phone(self) -> str:
        while True:
            phone = f"1{self.rng.choice('3456789')}{self.rng.randrange(10**9):09d}"
            if phone not in self.phones:
                self.phones.add(phone)
                return phone

    def _answers(self, group: Group) -> dict[str, Any]:
        answers: dict[str, Any] = {}
        for question in group.questions.all():
            key = f"q_{question.pk}"
            if question.kind == QuestionKind.SINGLE:
                answers[key] = self.rng.choice(question.choices)
            elif question.kind == QuestionKind.MULTIPLE:
                answers[key] = self.rng.sample(question.choices, k=self.rng.choice((1, 2)))
            elif question.kind == QuestionKind.NUMBER:
                answers[key] = self.rng.randrange(1, 10)
            else:
                answers[key] = "朋友推荐来的，想多交流"
        return answers

    # --- Ways in --------------------------------------------------------------------------------

    def bring_friend(
        self, inviter: Member, *, at: datetime, phone: str | None = None, group: Group | None = None, **handle
    ) -> Membership | None:
        """A friend comes in through ``inviter``'s link, joining at ``at`` (not before the inviter
        did): through a live code or by applying. None when they did not get in (a rule
        rejected them, the group was full)."""
        if inviter.joined_at is not None:
            at = max(at, inviter.joined_at + timedelta(hours=1))
        if self.live_codes and not phone and not handle and self.rng.random() < LIVE_CODE_SHARE:
            code = self.rng.choice(self.live_codes)
            try:
                membership = livecodes.livecode_join(code=code, display_name=self._name(), invited_by=inviter)
            except ApplicationError:
                return None
        else:
            membership = self._apply(inviter, phone=phone or self._phone(), group=group, **handle)
        if membership is not None:
            self._backdate(membership, at)
        return membership

    def _apply(self, inviter: Member, *, phone: str, group: Group | None = None, **handle) -> Membership | None:
        group = group or self.rng.choice(self.groups)
        verified = bool(handle)
        try:
            application = funnel.application_submit(
                group=group,
                display_name=self._name(),
                phone="" if verified else phone,
                city=inviter.city,
                answers=self._answers(group),
                referred_by=inviter,
                verified=verified,
                **handle,
            )
            if application.status == "pending":
                funnel.application_approve(application=application, by=None)
            application.refresh_from_db()
            invitation = getattr(application, "invitation", None)
            if invitation is None:
                return None  # a knockout rule said no
            return funnel.invitation_accept(token=invitation.token, verified=verified, **handle).membership
        except ApplicationError:
            return None

    def _backdate(self, membership: Membership, at: datetime) -> None:
        """As if they had joined at ``at``. Newcomers only: a member who was in before keeps
        their history (and this join stays today's)."""
        member = membership.member
        if member.joined_at is not None and member.joined_at < membership.joined_at:
            return
        at = min(at, self.now)
        Membership.objects.filter(pk=membership.pk).update(joined_at=at)
        Member.objects.filter(pk=member.pk).update(joined_at=at)
        Application.objects.filter(member=member).update(submitted_at=at - timedelta(hours=20))

    # --- What the checks are for ----------------------------------------------------------------

    def checks_at_work(self, inviters: list[Member]) -> None:
        """A few referrals the checks reject: second accounts of inviters, newcomers who give an
        existing member's phone, and members who were already in."""
        recent = self.now - timedelta(days=self.rng.randrange(1, 10))
        with_phones = [inviter for inviter in inviters if inviter.phone]
        for inviter in self.rng.sample(with_phones, k=min(SELF_INVITES, len(with_phones))):
            self.bring_friend(inviter, at=recent, phone=inviter.phone)
        others = list(
            Member.objects.filter(community=self.community, joined_at__lt=recent)
            .exclude(phone="")
            .exclude(pk__in=[inviter.pk for inviter in inviters])
            .order_by("pk")[:500]
        )
        for existing in self.rng.sample(others, k=min(DUPLICATES, len(others))):
            self.bring_friend(self.rng.choice(inviters), at=recent, phone=existing.phone)
        handles = list(
            PlatformHandle.objects.filter(community=self.community, member__joined_at__lt=recent)
            .exclude(member__in=inviters)
            .order_by("pk")[:500]
        )
        for handle in self.rng.sample(handles, k=min(ALREADY_IN, len(handles))):
            theirs = set(
                Membership.objects.filter(member_id=handle.member_id, status=MembershipStatus.ACTIVE).values_list(
                    "group_id", flat=True
                )
            )
            elsewhere = [group for group in self.groups if group.pk not in theirs]
            if elsewhere:
                self.bring_friend(
                    self.rng.choice(inviters),
                    at=recent,
                    group=self.rng.choice(elsewhere),
                    platform=handle.platform,
                    external_user_id=handle.external_id,
                )
