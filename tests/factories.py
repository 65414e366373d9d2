"""Factories that build through the services, so test data obeys the same rules as real data."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from members import services as people
from members.models import Member, Role
from subgroups import services
from subgroups.models import Community, Group, GroupKind, Platform


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def operator_of(user, create, communities, **kwargs):
        """Make the user an owner of these communities (the role on the hub)."""
        for community in communities or ():
            people.owner_add(community=community, user=user)


class CommunityFactory(factory.Factory):
    class Meta:
        model = Community

    name = factory.Sequence(lambda n: f"社群{n:03d}")
    slug = factory.Sequence(lambda n: f"community-{n}")
    platform = Platform.WECOM
    capacity = 2000

    @classmethod
    def _create(cls, model_class, **kwargs):
        return services.community_create(**kwargs)


class GroupFactory(factory.Factory):
    class Meta:
        model = Group

    parent = None
    name = factory.Sequence(lambda n: f"小群{n:03d}")
    kind = GroupKind.INTEREST

    @classmethod
    def _create(cls, model_class, **kwargs):
        return services.group_create_child(**kwargs)


class MemberFactory(factory.Factory):
    class Meta:
        model = Member

    community = None
    display_name = factory.Sequence(lambda n: f"成员{n:03d}")
    phone = factory.Sequence(lambda n: f"138{n:08d}")

    @classmethod
    def _create(cls, model_class, **kwargs):
        return people.member_create(**kwargs)


def staff_user(username: str, *, group: Group, role: str = Role.ADMIN):
    """A dashboard user holding ``role`` on ``group`` (and so on its subtree)."""
    user = UserFactory(username=username)
    member = people.member_create(community=group.community, display_name=username, user=user)
    people.role_grant(member=member, group=group, role=role)
    return user


def add_members(group: Group, count: int) -> list[Member]:
    """``count`` new members of the community, all put in ``group``."""
    members = [
        people.member_create(community=group.community, display_name=f"{group.name}成员{index:03d}")
        for index in range(count)
    ]
    people.memberships_import(group=group, members=members)
    return members
