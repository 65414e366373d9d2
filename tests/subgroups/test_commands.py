import io
from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from community.demo import COMMUNITIES
from members.models import Member, Membership, MembershipStatus
from subgroups import selectors
from subgroups.models import Community, Group

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


class TestSeedDemo:
    def test_it_loads_the_four_communities_of_the_article(self):
        output = run("seed_demo", "--with-logins")
        assert "created 4 communities" in output
        assert set(Community.objects.values_list("slug", flat=True)) == {spec.slug for spec in COMMUNITIES}
        hub = Community.objects.get(slug="internet-pros").hub
        # 2,000 members; the demo's generated activity has a few of them leave again.
        assert hub.name == "互联网从业者交流群"
        assert Member.objects.filter(community=hub.community).count() >= 2000  # and the applicants
        assert 1800 <= hub.member_count < 2000
        assert hub.member_count == Membership.objects.filter(group=hub, status=MembershipStatus.ACTIVE).count()
        # The growth demo adds the friends members invited (fission) and may open suggested groups.
        referred = Counter(
            Membership.objects.filter(
                group__parent=hub, status=MembershipStatus.ACTIVE, invited_by__isnull=False
            ).values_list("group__name", flat=True)
        )
        children = {group.name: group.member_count - referred[group.name] for group in hub.get_children()}
        placed = {"产品经理研讨群": 150, "程序员技术群": 180, "运营增长实战群": 120, "设计美学交流群": 100}
        assert placed.keys() <= children.keys()
        assert all(0.8 * placed[name] <= children[name] <= placed[name] for name in placed)
        regions = Community.objects.get(slug="ev-owners").hub.get_children()
        assert [(g.name, g.admission_criteria["cities"]) for g in regions] == [
            ("北京车友群", ["北京"]),
            ("上海车友群", ["上海"]),
            ("广州车友群", ["广州"]),
            ("成都车友群", ["成都"]),
        ]
        assert [g.capacity >= g.member_count > 0 for g in regions] == [True] * 4
        tiers = Community.objects.get(slug="learners").hub.get_children()
        assert [g.name for g in tiers] == ["青铜学员群", "白银会员群", "黄金VIP群", "钻石服务群"]
        stages = Community.objects.get(slug="exam-prep").hub.get_children()
        assert [g.admission_criteria["stage"] for g in stages] == ["newcomer", "intensive", "sprint", "alumni"]
        assert selectors.tree_problems() == []
        # Every member has numbers, every community a churn fit and a weekly report.
        from analytics.models import ChurnModel, HealthReport, MemberMetric

        assert MemberMetric.objects.count() == Member.objects.count()
        assert ChurnModel.objects.exclude(params={}).count() == HealthReport.objects.count() == 4

    def test_it_shows_content_at_every_stage(self):
        from content.models import Digest, ModerationFlag, Post, PostStatus, Schedule
        from outbox.models import MessageKind, OutboundMessage

        run("seed_demo", "--without-activity")
        statuses = set(Post.objects.values_list("status", flat=True))
        assert {PostStatus.FIRST_REVIEW, PostStatus.FINAL_REVIEW, PostStatus.PUBLISHED, PostStatus.BLOCKED} <= statuses
        digest = Digest.objects.get()
        assert digest.posts.count() >= 1 and all(post.featured for post in digest.posts.all())
        assert "本周" in digest.body  # drafted in the community's language
        assert Schedule.objects.filter(weekdays=[1, 3]).exists()
        assert set(ModerationFlag.objects.values_list("action", flat=True)) == {"block", "review", "warn"}
        assert OutboundMessage.objects.filter(kind=MessageKind.INSTRUCTION).count() == 1

    def test_running_it_twice_changes_nothing(self):
        from django.apps import apps

        def snapshot():
            # Every row of every table of ours, and the users.
            models = [
                model
                for model in apps.get_models()
                if model._meta.app_label in {"subgroups", "members", "content", "outbox", "auth"}
            ]
            return {model.__name__: list(model.objects.order_by("pk").values()) for model in models}

        run("seed_demo", "--without-activity", "--with-logins")
        before = snapshot()
        assert "created 0 communities, 0 groups, 0 members, 0 users" in run(
            "seed_demo", "--with-logins", "--without-activity"
        )
        assert snapshot() == before

    def test_the_demo_operator_sees_all_four(self, client):
        run("seed_demo", "--without-activity", "--with-logins")
        assert client.login(username="demo", password="canopy-demo")
        response = client.get("/c/internet-pros/tree/")
        assert response.status_code == 200
        assert response.content.decode().count('class="node ') == 6
