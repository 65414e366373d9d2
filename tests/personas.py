"""Personas for the permission tests: the community's owner, an admin of one subtree, an
admin of its sibling, a plain member, and an outsider who owns another community."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from members.models import Role
from subgroups.models import Group
from tests.conftest import _token_client, shared_user
from tests.factories import UserFactory, staff_user


@pytest.fixture
def design(community) -> Group:
    return Group.objects.get(community=community, name="设计美学交流群")


@pytest.fixture
def photo(community) -> Group:
    return Group.objects.get(community=community, name="摄影群")


@pytest.fixture
def coders(community) -> Group:
    return Group.objects.get(community=community, name="程序员技术群")


@pytest.fixture
def owner(request, community):
    return shared_user(request, "owner") or make_owner(community)


@pytest.fixture
def subtree_admin(request, design):
    """Admin of 设计美学交流群, and so of 摄影群 below it."""
    return shared_user(request, "subtree_admin") or staff_user("subtree_admin", group=design, role=Role.ADMIN)


@pytest.fixture
def sibling_admin(request, coders):
    """Admin of 程序员技术群, a sibling of 设计美学交流群."""
    return shared_user(request, "sibling_admin") or staff_user("sibling_admin", group=coders, role=Role.ADMIN)


@pytest.fixture
def plain_member(request, design):
    """In 设计美学交流群 with a login, but no role."""
    return shared_user(request, "plain_member") or staff_user("plain_member", group=design, role=Role.MEMBER)


@pytest.fixture
def personas(owner, subtree_admin, sibling_admin, plain_member, outsider):
    return {
        "owner": owner,
        "subtree_admin": subtree_admin,
        "sibling_admin": sibling_admin,
        "member": plain_member,
        "outsider": outsider,
    }


def make_owner(community):
    return UserFactory(username="owner", operator_of=[community])


def make_personas(community, outsider) -> dict:
    """The personas of the fixtures above, built at once (for data shared by a module)."""
    groups = {group.name: group for group in Group.objects.filter(community=community)}
    return {
        "owner": make_owner(community),
        "subtree_admin": staff_user("subtree_admin", group=groups["设计美学交流群"], role=Role.ADMIN),
        "sibling_admin": staff_user("sibling_admin", group=groups["程序员技术群"], role=Role.ADMIN),
        "member": staff_user("plain_member", group=groups["设计美学交流群"], role=Role.MEMBER),
        "outsider": outsider,
    }


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_client(user) -> APIClient:
    return _token_client(user)
