import pytest
from django.db import IntegrityError, transaction

from core.errors import ApplicationError
from members import services
from members.models import Member, Membership, MembershipStatus, PlatformHandle, Role
from members.permissions import ROLE_CAPABILITIES, can, grantable_roles, groups_where
from members.privacy import mask_email, mask_phone
from subgroups.access import Capability
from subgroups.models import Group, GroupStatus
from tests.factories import CommunityFactory, MemberFactory, UserFactory

pytestmark = pytest.mark.django_db


class TestMembers:
    def test_a_member_is_created_with_tidy_data(self, community):
        member = services.member_create(
            community=community,
            display_name="  林  嘉琪 ",
            phone="+86 138-1234-5678",
            email="Lin@Example.org",
            tags=["摄影", "摄影", " 设计 "],
            handles=[("wechat", "wx-lin")],
        )
        assert member.display_name == "林 嘉琪"
        assert member.phone == "+8613812345678"
        assert member.email == "lin@example.org"
        assert member.tags == ["摄影", "设计"]
        assert list(member.handles.values_list("platform", "external_id")) == [("wechat", "wx-lin")]

    @pytest.mark.parametrize(
        ("field", "value"),
        [("phone", "call me"), ("email", "not-an-email"), ("display_name", ""), ("lifecycle_stage", "retired")],
    )
    def test_bad_data_is_refused_with_the_field(self, community, field, value):
        values = {"display_name": "甲", field: value}
        with pytest.raises(ApplicationError) as refused:
            services.member_create(community=community, **values)
        assert refused.value.field == field

    def test_a_platform_account_belongs_to_one_member_per_community(self, community, other_community):
        first = MemberFactory(community=community, handles=[("qq", "10001")])
        MemberFactory(community=other_community, handles=[("qq", "10001")])
        with pytest.raises(ApplicationError) as refused:
            MemberFactory(community=community, handles=[("qq", "10001")])
        assert refused.value.field == "external_user_id"
        assert services.handle_add(member=first, platform="qq", external_id="10001").member_id == first.pk
        with pytest.raises(IntegrityError), transaction.atomic():
            PlatformHandle.objects.create(community=community, member=first, platform="qq", external_id="10001")

    def test_members_are_found_by_platform_account_only(self, community, other_community):
        member = MemberFactory(community=community, handles=[("wechat", "wx-1")])
        MemberFactory(community=other_community, handles=[("wechat", "wx-2")])
        assert services.member_by_handle(community=community, platform="wechat", external_id="wx-1") == member
        assert services.member_by_handle(community=community, platform="qq", external_id="wx-1") is None
        assert services.member_by_handle(community=community, platform="wechat", external_id="wx-2") is None


class TestMemberships:
    def test_joining_takes_a_seat_and_leaving_frees_it(self, community, design):
        member = MemberFactory(community=community)
        membership = services.membership_add(member=member, group=design, source="manual")
        design.refresh_from_db()
        assert design.member_count == 1 and membership.is_active
        assert Member.objects.get(pk=member.pk).joined_at is not None
        services.membership_end(membership=membership)
        design.refresh_from_db()
        membership.refresh_from_db()
        assert design.member_count == 0
        assert membership.status == MembershipStatus.LEFT and membership.left_at is not None

    def test_joining_twice_keeps_one_membership_and_one_seat(self, community, design):
        member = MemberFactory(community=community)
        first = services.membership_add(member=member, group=design, source="manual")
        second = services.membership_add(member=member, group=design, source="invite")
        design.refresh_from_db()
        assert first.pk == second.pk and design.member_count == 1
        with pytest.raises(IntegrityError), transaction.atomic():
            Membership.objects.create(member=member, group=design, source="manual")

    def test_a_full_group_takes_nobody_more(self, community, design):
        from subgroups import services as tree

        tree.group_update(group=design, capacity=1)
        services.membership_add(member=MemberFactory(community=community), group=design, source="manual")
        design.refresh_from_db()
        assert design.status == GroupStatus.FULL
        with pytest.raises(services.people.GroupFull):
            services.membership_add(member=MemberFactory(community=community), group=design, source="manual")
        assert Membership.objects.filter(group=design).count() == 1

    def test_leaving_a_full_group_opens_it(self, community, design):
        from subgroups import services as tree

        tree.group_update(group=design, capacity=1)
        membership = services.membership_add(member=MemberFactory(community=community), group=design, source="manual")
        services.membership_end(membership=membership)
        design.refresh_from_db()
        assert (design.member_count, design.status) == (0, GroupStatus.OPEN)

    def test_members_stay_in_their_own_community(self, community, other_community, design):
        stranger = MemberFactory(community=other_community)
        with pytest.raises(ApplicationError):
            services.membership_add(member=stranger, group=design, source="manual")

    def test_an_archived_group_takes_nobody(self, community, design):
        from subgroups import services as tree

        tree.group_archive(group=design)
        with pytest.raises(ApplicationError):
            services.membership_add(member=MemberFactory(community=community), group=design, source="manual")

    def test_a_bulk_import_fits_entirely_or_not_at_all(self, community, design):
        from subgroups import services as tree

        tree.group_update(group=design, capacity=3)
        members = [MemberFactory(community=community) for _ in range(4)]
        with pytest.raises(ApplicationError), transaction.atomic():
            services.memberships_import(group=design, members=members)
        assert services.memberships_import(group=design, members=members[:3]) == 3
        assert services.memberships_import(group=design, members=members[:3]) == 0
        design.refresh_from_db()
        assert design.member_count == 3


class TestRoles:
    def test_granting_a_role_joins_or_promotes(self, community, design):
        member = MemberFactory(community=community)
        membership = services.role_grant(member=member, group=design, role=Role.ADMIN)
        assert membership.role == Role.ADMIN and membership.role_since is not None
        again = services.role_grant(member=member, group=design, role=Role.GUIDE)
        assert again.pk == membership.pk and again.role == Role.GUIDE
        design.refresh_from_db()
        assert design.member_count == 1

    def test_a_community_keeps_an_owner(self, community, operator):
        owner_membership = Membership.objects.get(group=community.hub, role=Role.OWNER)
        with pytest.raises(ApplicationError):
            services.role_revoke(membership=owner_membership)
        with pytest.raises(ApplicationError):
            services.membership_end(membership=owner_membership)
        second = UserFactory(username="second-owner", operator_of=[community])
        assert second
        services.role_revoke(membership=owner_membership)
        assert Membership.objects.get(pk=owner_membership.pk).role == Role.MEMBER

    def test_the_creator_of_a_community_owns_it(self, db):
        user = UserFactory(username="founder")
        from subgroups import services as tree

        community = tree.community_create(name="读书会", creator=user)
        membership = Membership.objects.get(group=community.hub, member__user=user)
        assert membership.role == Role.OWNER
        assert can(user, Capability.SEE_PERSONAL_DATA, community.hub)


class TestPermissions:
    def test_the_role_table(self):
        assert ROLE_CAPABILITIES[Role.OWNER] == frozenset(Capability.ALL)
        assert Capability.MANAGE_TREE in ROLE_CAPABILITIES[Role.CORE_ADMIN]
        assert Capability.SEE_PERSONAL_DATA not in ROLE_CAPABILITIES[Role.CORE_ADMIN]
        assert Capability.MANAGE_TREE not in ROLE_CAPABILITIES[Role.ADMIN]
        assert ROLE_CAPABILITIES[Role.GUIDE] == {Capability.VIEW, Capability.REVIEW_APPLICATIONS}
        assert ROLE_CAPABILITIES[Role.MEMBER] == frozenset()

    def test_a_role_covers_its_subtree_and_nothing_else(self, community, design, photo, coders, subtree_admin):
        assert can(subtree_admin, Capability.VIEW, design)
        assert can(subtree_admin, Capability.MANAGE_MEMBERS, photo)
        assert not can(subtree_admin, Capability.VIEW, coders)
        assert not can(subtree_admin, Capability.VIEW, community.hub)
        assert set(groups_where(subtree_admin, Capability.VIEW)) == {design, photo}

    def test_plain_members_see_nothing_in_the_dashboard(self, design, plain_member):
        assert not groups_where(plain_member, Capability.VIEW).exists()

    def test_roles_in_one_community_grant_nothing_in_another(self, community, other_community, outsider):
        assert not can(outsider, Capability.VIEW, community.hub)
        assert can(outsider, Capability.VIEW, other_community.hub)

    def test_an_ended_membership_grants_nothing(self, design, subtree_admin):
        membership = Membership.objects.get(member__user=subtree_admin, group=design)
        services.membership_end(membership=membership)
        assert not can(subtree_admin, Capability.VIEW, design)

    def test_only_owners_name_owners_and_core_admins(self, community, design, owner, subtree_admin):
        assert set(grantable_roles(owner, design)) == set(Role.values)
        assert set(grantable_roles(subtree_admin, design)) == {Role.MEMBER, Role.GUIDE, Role.ADMIN}
        assert grantable_roles(subtree_admin, community.hub) == []

    def test_superusers_may_do_everything(self, community, superuser):
        assert can(superuser, Capability.SEE_PERSONAL_DATA, community.hub)


class TestPrivacy:
    @pytest.mark.parametrize(
        ("phone", "masked"),
        [("13812341234", "138****1234"), ("+8613812341234", "138****1234"), ("1234567", "12****67"), ("123", "****")],
    )
    def test_phones_are_masked(self, phone, masked):
        assert mask_phone(phone) == masked

    def test_emails_are_masked(self):
        assert mask_email("lin.wei@example.org") == "l***@example.org"
        assert mask_email("") == ""


def test_a_third_community_is_independent(db):
    third = CommunityFactory()
    assert Group.objects.filter(community=third).count() == 1
