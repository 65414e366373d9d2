"""Factories that build through the services, so test data obeys the same rules as real data."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from members.services import operator_add
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
        for community in communities or ():
            operator_add(community=community, user=user)


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
