"""Real concurrent connections on PostgreSQL against the tree services.

django-mptt recomputes interval columns from the rows it read; unserialised, eight threads
adding children under one hub leave overlapping intervals and duplicate tree ids. These tests
run the services from many threads at once (each thread has its own connection) and then check
the stored intervals against the parent links.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable

import pytest
from django.db import connection

from subgroups import selectors, services
from subgroups.models import Community, Group, GroupKind
from tests.factories import CommunityFactory, GroupFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8


def run_at_once(work: Callable[[int], None], *, threads: int = THREADS) -> list[BaseException]:
    """Start ``threads`` workers together (a barrier), wait for all, return their errors."""
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def runner(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            work(index)
        except BaseException as error:  # noqa: BLE001 - collected and asserted on below
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=runner, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not any(worker.is_alive() for worker in workers), "a worker hung: lock never released?"
    return errors


def assert_sound(community: Community) -> None:
    assert selectors.tree_problems() == []
    nodes = list(Group.objects.filter(community=community).values("pk", "parent_id", "lft", "rght"))
    children = defaultdict(list)
    for node in nodes:
        children[node["parent_id"]].append(node["pk"])

    def count(pk: int) -> int:
        return sum(1 + count(child) for child in children[pk])

    for node in nodes:
        assert (node["rght"] - node["lft"] - 1) // 2 == count(node["pk"]), node


def test_many_children_added_at_once_under_one_hub():
    community = CommunityFactory()
    hub_id = community.hub_id

    def add_children(index: int) -> None:
        for number in range(5):
            services.group_create_child(
                parent=Group.objects.get(pk=hub_id), name=f"小群{index}-{number}", kind=GroupKind.INTEREST
            )

    assert run_at_once(add_children) == []
    assert Group.objects.get(pk=hub_id).get_descendant_count() == THREADS * 5
    assert_sound(community)


def test_moves_creates_and_archives_interleaved_in_one_tree():
    community = CommunityFactory()
    branches = [GroupFactory(parent=community.hub, name=f"分支{index}") for index in range(THREADS)]
    leaves = [GroupFactory(parent=branch, name=f"叶子{index}") for index, branch in enumerate(branches)]

    def churn(index: int) -> None:
        for step in range(4):
            target = branches[(index + step + 1) % THREADS]
            services.group_move(group=Group.objects.get(pk=leaves[index].pk), new_parent=target)
            services.group_create_child(
                parent=Group.objects.get(pk=target.pk), name=f"新群{index}-{step}", kind=GroupKind.CUSTOM
            )
        if index % 2:
            services.group_archive(group=Group.objects.get(pk=leaves[index].pk))

    assert run_at_once(churn) == []
    assert Group.objects.filter(community=community).count() == 1 + THREADS * 2 + THREADS * 4
    assert_sound(community)


def test_communities_created_at_once_get_their_own_trees():
    def create(index: int) -> None:
        community = services.community_create(name=f"并发社群{index}", slug=f"parallel-{index}")
        services.group_create_child(parent=community.hub, name="小群", kind=GroupKind.INTEREST)

    assert run_at_once(create) == []
    hubs = Group.objects.filter(parent__isnull=True)
    assert hubs.count() == THREADS
    assert len(set(hubs.values_list("tree_id", flat=True))) == THREADS
    assert selectors.tree_problems() == []


def test_writes_in_two_communities_at_once_leave_both_sound():
    first, second = CommunityFactory(), CommunityFactory()

    def add(index: int) -> None:
        community = first if index % 2 else second
        for number in range(5):
            services.group_create_child(
                parent=Group.objects.get(pk=community.hub_id), name=f"群{index}-{number}", kind=GroupKind.REGION
            )

    assert run_at_once(add) == []
    assert_sound(first)
    assert_sound(second)
    assert Group.objects.filter(community=first).count() == Group.objects.filter(community=second).count() == 21
