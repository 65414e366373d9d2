import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from subgroups import selectors
from subgroups.models import Group

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


class TestCheckTree:
    def test_a_sound_forest_passes(self, community, other_community):
        assert "All trees are consistent." in run("check_tree")

    def test_damage_is_reported_and_fails_the_command(self, community):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE subgroups_group SET lft = lft + 5 WHERE community_id = %s", [community.pk])
        with pytest.raises(CommandError, match="Run with --fix"):
            run("check_tree")

    def test_fix_rebuilds_from_the_parent_links(self, community, other_community):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE subgroups_group SET lft = 1, rght = 2, tree_id = 1")
        output = run("check_tree", "--fix")
        assert "Rebuilt." in output
        assert selectors.tree_problems() == []
        assert Group.objects.get(name="摄影群").get_ancestors().count() == 2

    def test_one_community_can_be_checked_alone(self, community, other_community):
        assert "All trees are consistent." in run("check_tree", "--community", other_community.slug)
        with pytest.raises(CommandError, match="No community"):
            run("check_tree", "--community", "nope")
