from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from core.errors import ApplicationError
from members import selectors, services
from members.models import LiveCode, Membership, Role
from outbox.models import MessageKind, OutboundMessage
from subgroups import services as tree
from subgroups.models import Group, Platform
from tests.factories import GroupFactory, MemberFactory, add_members

pytestmark = pytest.mark.django_db


@pytest.fixture
def photo_pool(community, design):
    """Two photography groups under 设计美学交流群, capacity 3 each, on QQ (no QR limit)."""
    first = GroupFactory(parent=design, name="互联网从业者交流群-摄影小群01", platform=Platform.QQ, capacity=3)
    second = GroupFactory(parent=design, name="互联网从业者交流群-摄影小群02", platform=Platform.QQ, capacity=3)
    return first, second


@pytest.fixture
def code(community, design, photo_pool):
    return services.livecode_create(
        community=community, name="摄影小群活码", parent=design, attribute="摄影", groups=list(photo_pool), max_groups=3
    )


def join(code, index: int):
    """As an integration resolving a scan: the QQ account identifies the newcomer."""
    return services.livecode_join(
        code=code, display_name=f"新人{index}", platform="qq", external_user_id=f"qq-{index}", verified=True
    )


class TestRouting:
    def test_newcomers_fill_the_first_group_with_room_in_order(self, code, photo_pool):
        first, second = photo_pool
        groups = [join(code, index).group for index in range(5)]
        assert groups == [first, first, first, second, second]
        first.refresh_from_db()
        assert first.member_count == 3 and first.status == "full"

    def test_when_all_are_full_the_next_numbered_group_opens_with_the_same_settings(self, code, photo_pool, design):
        tree.group_update(group=photo_pool[1], rules_text="摄影群规")
        for index in range(6):
            join(code, index)
        opened = join(code, 6).group
        assert opened.name == "互联网从业者交流群-摄影小群03"
        assert opened.parent == design and opened.platform == Platform.QQ and opened.capacity == 3
        assert opened.rules == "摄影群规"
        assert opened.transition_ends_at > timezone.now() + timedelta(days=13)
        assert list(code.pool.order_by("position").values_list("group__name", flat=True))[-1] == opened.name

    def test_it_stops_at_the_most_groups_allowed(self, code):
        for index in range(9):
            join(code, index)
        with pytest.raises(ApplicationError) as refused:
            join(code, 9)
        assert "full" in refused.value.message
        assert Group.objects.filter(name__contains="摄影小群").count() == 3

    def test_wechat_groups_take_newcomers_until_200(self, community, design):
        big = GroupFactory(parent=design, name="互联网从业者交流群-摄影小群01", platform=Platform.WECHAT)
        add_members(big, 199)
        code = services.livecode_create(community=community, name="活码", parent=design, attribute="摄影", groups=[big])
        assert join(code, 1).group == big
        assert join(code, 2).group.name == "互联网从业者交流群-摄影小群02"
        big.refresh_from_db()
        assert big.member_count == 200 and big.capacity == 500

    def test_a_newcomer_who_is_already_in_the_pool_keeps_their_group(self, code, photo_pool):
        first = join(code, 1)
        again = join(code, 1)
        assert again.pk == first.pk
        photo_pool[0].refresh_from_db()
        assert photo_pool[0].member_count == 1

    def test_each_newcomer_gets_a_welcome_message(self, code):
        membership = join(code, 1)
        message = OutboundMessage.objects.get(kind=MessageKind.WELCOME)
        assert message.recipient_external_id == "qq-1" and membership.member.display_name in message.body

    def test_a_switched_off_code_takes_nobody(self, code):
        services.livecode_update(code=code, is_active=False)
        with pytest.raises(ApplicationError):
            join(code, 1)

    def test_a_guide_is_assigned_to_new_groups(self, community, code, photo_pool):
        guide = MemberFactory(community=community)
        services.livecode_update(code=code, guide=guide)
        for index in range(7):
            join(code, index)
        opened = Group.objects.get(name="互联网从业者交流群-摄影小群03")
        assert Membership.objects.get(group=opened, member=guide).role == Role.GUIDE

    def test_statistics_count_scans_and_joins_per_group(self, code, photo_pool):
        for _ in range(3):
            services.livecode_scan(code=code)
        for index in range(4):
            join(code, index)
        code = LiveCode.objects.get(pk=code.pk)
        rows = selectors.livecode_pool(code)
        assert code.scan_count == 3
        assert [(row.group, row.joins, row.routing) for row in rows] == [
            (photo_pool[0], 3, False),
            (photo_pool[1], 1, True),
        ]

    def test_the_pool_must_sit_under_the_parent(self, community, design, coders):
        with pytest.raises(ApplicationError) as refused:
            services.livecode_create(community=community, name="x", parent=design, attribute="摄影", groups=[coders])
        assert refused.value.field == "groups"


class TestAdminProgramme:
    def test_an_assessment_is_recorded_once_a_month(self, community, design, owner):
        admin = MemberFactory(community=community)
        services.role_grant(member=admin, group=design, role=Role.ADMIN)
        first = services.assessment_record(
            member=admin, group=design, month=date(2026, 11, 15), activity_score=80, dispute_score=70, by=owner
        )
        again = services.assessment_record(
            member=admin, group=design, month=date(2026, 11, 1), activity_score=90, dispute_score=70, by=owner
        )
        assert first.pk == again.pk and again.month == date(2026, 11, 1) and again.total == 80
        with pytest.raises(ApplicationError):
            services.assessment_record(
                member=admin, group=design, month=date(2026, 11, 1), activity_score=101, dispute_score=0
            )

    def test_rotation_makes_the_top_three_temporary_guides_until_month_end(self, community, design):
        members = add_members(design, 5)
        counts = {members[0].pk: 40, members[1].pk: 90, members[2].pk: 10, members[3].pk: 90, members[4].pk: 0}
        guides = services.guides_rotate(group=design, month=date(2026, 11, 1), message_counts=counts)
        tied = sorted([members[1], members[3]], key=lambda member: member.display_name)
        assert [guide.member for guide in guides] == [*tied, members[0]]
        assert all(guide.role == Role.GUIDE for guide in guides)
        assert guides[0].role_until == datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)

    def test_staff_are_not_rotated_and_nobody_without_messages(self, community, design):
        admin, quiet = add_members(design, 2)
        services.role_grant(member=admin, group=design, role=Role.ADMIN)
        guides = services.guides_rotate(
            group=design, month=date(2026, 11, 1), message_counts={admin.pk: 99, quiet.pk: 0}
        )
        assert guides == []

    def test_expired_terms_fall_back_to_member(self, community, design):
        (member,) = add_members(design, 1)
        services.role_grant(
            member=member, group=design, role=Role.GUIDE, role_until=timezone.now() - timedelta(minutes=1)
        )
        assert services.roles_expire() == 1
        membership = Membership.objects.get(member=member, group=design)
        assert membership.role == Role.MEMBER and membership.role_until is None
