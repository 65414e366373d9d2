"""The funnel's races, with real concurrent connections on PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from core.errors import ApplicationError
from members import services
from members.models import Application, ApplicationStatus, Invitation, LiveCode, Membership
from subgroups.models import Group, Platform
from tests.concurrency.test_tree_concurrency import run_at_once
from tests.factories import CommunityFactory, GroupFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_admins_deciding_one_application_make_exactly_one_decision():
    community = CommunityFactory()
    group = GroupFactory(parent=community.hub)
    admins = [UserFactory(username=f"admin{index}") for index in range(2)]
    for round_ in range(10):  # the race is short: run it several times
        application = services.application_submit(group=group, display_name="甲", phone=f"1300000{round_:04d}")
        outcomes: list[str] = []
        lock = threading.Lock()

        def decide(index: int, application_pk=application.pk, outcomes=outcomes, lock=lock) -> None:
            target = Application.objects.get(pk=application_pk)
            try:
                if index == 0:
                    services.application_approve(application=target, by=admins[0])
                else:
                    services.application_reject(application=target, by=admins[1], reason="不合适")
                with lock:
                    outcomes.append("decided")
            except ApplicationError:
                with lock:
                    outcomes.append("refused")

        assert run_at_once(decide, threads=2) == []
        assert sorted(outcomes) == ["decided", "refused"]
        application.refresh_from_db()
        invitations = Invitation.objects.filter(application=application).count()
        if application.status == ApplicationStatus.APPROVED:
            assert application.decided_by == admins[0] and invitations == 1
        else:
            assert application.status == ApplicationStatus.REJECTED and invitations == 0


def test_fifty_joins_through_a_live_code_at_the_capacity_boundary():
    """Two groups of 20 with 10 seats taken between them... and 50 newcomers at once: every
    seat fills, the next numbered group opens for the rest, nobody is lost or overfilled."""
    community = CommunityFactory(name="摄影社群")
    parent = GroupFactory(parent=community.hub, name="兴趣小群")
    first = GroupFactory(parent=parent, name="摄影社群-摄影小群01", platform=Platform.QQ, capacity=20)
    second = GroupFactory(parent=parent, name="摄影社群-摄影小群02", platform=Platform.QQ, capacity=20)
    code = services.livecode_create(
        community=community, name="活码", parent=parent, attribute="摄影", groups=[first, second], max_groups=5
    )
    for index in range(10):
        services.livecode_join(
            code=code, display_name=f"老人{index}", platform="qq", external_user_id=f"old-{index}", verified=True
        )

    joined: list[int] = []
    lock = threading.Lock()

    def join(index: int) -> None:
        membership = services.livecode_join(
            code=LiveCode.objects.get(pk=code.pk),
            display_name=f"新人{index}",
            platform="qq",
            external_user_id=f"new-{index}",
            verified=True,
        )
        with lock:
            joined.append(membership.pk)

    assert run_at_once(join, threads=50) == []
    assert len(joined) == len(set(joined)) == 50
    groups = list(Group.objects.filter(parent=parent).order_by("lft"))
    assert [group.name for group in groups] == ["摄影社群-摄影小群01", "摄影社群-摄影小群02", "摄影社群-摄影小群03"]
    for group in groups:
        active = Membership.objects.filter(group=group, status="active").count()
        assert active == group.member_count <= group.capacity
    assert [group.member_count for group in groups] == [20, 20, 20]
    assert Membership.objects.filter(live_code=code).count() == 60


def test_joins_racing_applications_never_overfill_a_group():
    community = CommunityFactory()
    group = GroupFactory(parent=community.hub, platform=Platform.QQ, capacity=10)
    owner = UserFactory(username="owner", operator_of=[community])
    invitations = [
        services.application_approve(
            application=services.application_submit(
                group=group, display_name=f"申请{index}", phone=f"1390000{index:04d}"
            ),
            by=owner,
        )
        for index in range(16)
    ]
    accepted: list[int] = []
    lock = threading.Lock()

    def accept(index: int) -> None:
        for invitation in invitations[index * 2 : index * 2 + 2]:
            try:
                services.invitation_accept(token=invitation.token)
                with lock:
                    accepted.append(invitation.pk)
            except ApplicationError:
                pass

    assert run_at_once(accept) == []
    group.refresh_from_db()
    assert len(accepted) == group.member_count == 10 == Membership.objects.filter(group=group, status="active").count()


def test_fifty_members_racing_for_thirty_seats_get_exactly_thirty():
    """No code lock here: only the conditional seat UPDATE stands between 50 joins and a
    group of 30."""
    community = CommunityFactory()
    group = GroupFactory(parent=community.hub, platform=Platform.QQ, capacity=30)
    from tests.factories import MemberFactory

    members = [MemberFactory(community=community) for _ in range(50)]
    seated: list[int] = []
    full: list[int] = []
    lock = threading.Lock()

    def add(index: int) -> None:
        try:
            services.membership_add(member=members[index], group=group, source="manual")
            with lock:
                seated.append(index)
        except services.people.GroupFull:
            with lock:
                full.append(index)

    assert run_at_once(add, threads=50) == []
    group.refresh_from_db()
    assert len(seated) == 30 and len(full) == 20
    assert group.member_count == 30 == Membership.objects.filter(group=group, status="active").count()
    assert group.status == "full"
