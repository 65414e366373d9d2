"""Personas for the permission tests: the community's owner, an admin of one subtree, an
admin of its sibling, a plain member, and an outsider who owns another community."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from members.models import Role
from subgroups.models import Group
from tests.conftest import _token_client
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
def owner(community):
    return UserFactory(username="owner", operator_of=[community])


@pytest.fixture
def subtree_admin(design):
    """Admin of 设计美学交流群, and so of 摄影群 below it."""
    return staff_user("subtree_admin", group=design, role=Role.ADMIN)


@pytest.fixture
def sibling_admin(coders):
    """Admin of 程序员技术群, a sibling of 设计美学交流群."""
    return staff_user("sibling_admin", group=coders, role=Role.ADMIN)


@pytest.fixture
def plain_member(design):
    """In 设计美学交流群 with a login, but no role."""
    return staff_user("plain_member", group=design, role=Role.MEMBER)


@pytest.fixture
def personas(owner, subtree_admin, sibling_admin, plain_member, outsider):
    return {
        "owner": owner,
        "subtree_admin": subtree_admin,
        "sibling_admin": sibling_admin,
        "member": plain_member,
        "outsider": outsider,
    }


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_client(user) -> APIClient:
    return _token_client(user)
