import pytest
from django.db import connection

from subgroups import selectors, services
from subgroups.models import Group
from tests.factories import GroupFactory, add_members

pytestmark = pytest.mark.django_db


def test_nest_builds_the_tree_in_order(community):
    tree = selectors.nest(list(Group.objects.filter(community=community).order_by("tree_id", "lft")))
    assert len(tree) == 1
    hub = tree[0]
    assert hub["name"] == "互联网从业者交流群" and hub["kind"] == "hub"
    assert [child["name"] for child in hub["children"]] == ["设计美学交流群", "程序员技术群"]
    assert [child["name"] for child in hub["children"][0]["children"]] == ["摄影群"]
    assert hub["children"][1]["children"] == []


def test_a_subtree_starts_at_its_group(community):
    design = Group.objects.get(name="设计美学交流群")
    (root,) = selectors.nest(selectors.subtree(design))
    assert root["id"] == design.pk and [child["name"] for child in root["children"]] == ["摄影群"]


class TestMermaid:
    def test_it_draws_a_graph_td_with_every_edge(self, community):
        text = selectors.mermaid(list(Group.objects.filter(community=community).order_by("tree_id", "lft")))
        hub = community.hub
        design = Group.objects.get(name="设计美学交流群")
        photo = Group.objects.get(name="摄影群")
        lines = text.splitlines()
        assert lines[0] == "graph TD"
        assert f'    g{hub.pk}["互联网从业者交流群<br/>Hub · 0/2000"]' in lines
        assert f'    g{hub.pk} --> g{design.pk}("设计美学交流群<br/>Interest · 0/500")' in lines
        assert f'    g{design.pk} --> g{photo.pk}("摄影群<br/>Interest · 0/500")' in lines
        assert sum(" --> " in line for line in lines) == 3

    def test_quotes_and_markup_in_names_cannot_break_out(self, community):
        GroupFactory(parent=community.hub, name='A"] --> X[<script>')
        text = selectors.mermaid(list(Group.objects.filter(community=community).order_by("tree_id", "lft")))
        assert "<script>" not in text and '"]' not in text.split("A")[-1].split("<br/>")[0]
        assert "A#quot;] --#gt; X[#lt;script#gt;" in text

    def test_archived_and_full_groups_are_styled(self, community):
        design = Group.objects.get(name="设计美学交流群")
        services.group_archive(group=design)
        text = selectors.mermaid(list(Group.objects.filter(community=community).order_by("tree_id", "lft")))
        assert "classDef archived" in text
        assert f"class g{design.pk}," in text


def test_stats_count_live_subgroups_and_their_room(community):
    coders = Group.objects.get(name="程序员技术群")
    services.group_update(group=coders, capacity=180)
    add_members(coders, 180)
    services.group_archive(group=Group.objects.get(name="摄影群"))
    stats = selectors.community_stats(Group.objects.filter(community=community))
    assert (stats.groups, stats.open, stats.full, stats.archived) == (2, 1, 1, 1)
    assert (stats.members, stats.capacity) == (180, 680)
    assert stats.fill_percent == 26
    assert stats.by_kind == {"interest": 2}


def test_groups_by_fill_puts_the_fullest_first(community):
    add_members(Group.objects.get(name="摄影群"), 400)
    add_members(Group.objects.get(name="程序员技术群"), 100)
    assert [group.name for group in selectors.groups_by_fill(Group.objects.filter(community=community))] == [
        "摄影群",
        "程序员技术群",
        "设计美学交流群",
    ]


class TestTreeProblems:
    def test_a_sound_tree_has_none(self, community, other_community):
        assert selectors.tree_problems() == []

    def test_overlapping_intervals_are_found(self, community):
        design = Group.objects.get(name="设计美学交流群")
        with connection.cursor() as cursor:
            cursor.execute("UPDATE subgroups_group SET rght = rght + 2 WHERE id = %s", [design.pk])
        problems = selectors.tree_problems()
        assert any(problem.group_id == design.pk and "lft/rght" in problem.message for problem in problems)
        assert {problem.community_id for problem in problems} == {community.pk}

    def test_shared_tree_ids_are_found(self, community, other_community):
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE subgroups_group SET tree_id = %s WHERE community_id = %s",
                [community.hub.tree_id, other_community.pk],
            )
        problems = selectors.tree_problems()
        assert any("shared" in problem.message for problem in problems)

    def test_rebuild_repairs_the_damage(self, community, other_community):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE subgroups_group SET lft = lft + 1, tree_id = 1")
        assert selectors.tree_problems()
        services.trees_rebuild()
        assert selectors.tree_problems() == []
        assert [group.name for group in Group.objects.get(pk=community.hub_id).get_children()] == [
            "设计美学交流群",
            "程序员技术群",
        ]
