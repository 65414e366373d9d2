"""The demo communities (``seed_demo``): what the article describes is there, every model's
admin pages open on its rows, and running it again changes nothing.

The full demo (14,000 members acting out 60 days) is the slowest thing the suite builds, so it
is built once, for the class that looks at it; the demo without activity likewise. Each test
runs in a savepoint rolled back after it (see ``class_db`` in tests/conftest.py).
"""

import io
from collections import Counter

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse
from rest_framework.authtoken.models import Token

from community.demo import COMMUNITIES
from members.models import Member, Membership, MembershipStatus
from subgroups import selectors
from subgroups.models import Community
from tests.conftest import settled

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def admin_url(model, action: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.mark.slow
class TestTheFullDemo:
    @pytest.fixture(scope="class")
    @classmethod
    def full_demo(cls, class_db) -> str:
        """``seed_demo --with-logins`` with its generated activity; its output."""
        return settled(run("seed_demo", "--with-logins"))

    def test_it_loads_the_four_communities_of_the_article(self, full_demo):
        output = full_demo
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

    def test_every_registered_model_has_working_admin_pages(
        self, full_demo, admin_client, superuser, community, operator
    ):
        # The demo has rows in every model: members, memberships, questions, applications, a live
        # code, activity and its numbers, and the growth levers.
        Token.objects.create(user=operator)
        request = RequestFactory().get("/admin/")
        request.user = superuser
        for model, model_admin in admin.site._registry.items():
            assert admin_client.get(admin_url(model, "changelist")).status_code == 200, model
            assert admin_client.get(admin_url(model, "changelist"), {"q": "群"}).status_code == 200, model
            # Records only the funnel creates (applications, invitations) are read-only here.
            expected_add = 200 if model_admin.has_add_permission(request) else 403
            assert admin_client.get(admin_url(model, "add")).status_code == expected_add, model
            instance = model._default_manager.first()
            if instance is not None:
                assert admin_client.get(admin_url(model, "change", instance.pk)).status_code == 200, model


class TestTheDemoWithoutActivity:
    @pytest.fixture(scope="class")
    @classmethod
    def light_demo(cls, class_db) -> str:
        return settled(run("seed_demo", "--without-activity", "--with-logins"))

    def test_it_shows_content_at_every_stage(self, light_demo):
        from content.models import Digest, ModerationFlag, Post, PostStatus, Schedule
        from outbox.models import MessageKind, OutboundMessage

        statuses = set(Post.objects.values_list("status", flat=True))
        assert {PostStatus.FIRST_REVIEW, PostStatus.FINAL_REVIEW, PostStatus.PUBLISHED, PostStatus.BLOCKED} <= statuses
        digest = Digest.objects.get()
        assert digest.posts.count() >= 1 and all(post.featured for post in digest.posts.all())
        assert "本周" in digest.body  # drafted in the community's language
        assert Schedule.objects.filter(weekdays=[1, 3]).exists()
        assert set(ModerationFlag.objects.values_list("action", flat=True)) == {"block", "review", "warn"}
        assert OutboundMessage.objects.filter(kind=MessageKind.INSTRUCTION).count() == 1

    def test_running_it_twice_changes_nothing(self, light_demo):
        from django.apps import apps

        def snapshot():
            # Every row of every table of ours, and the users.
            models = [
                model
                for model in apps.get_models()
                if model._meta.app_label in {"subgroups", "members", "content", "outbox", "auth"}
            ]
            return {model.__name__: list(model.objects.order_by("pk").values()) for model in models}

        before = snapshot()
        assert "created 0 communities, 0 groups, 0 members, 0 users" in run(
            "seed_demo", "--with-logins", "--without-activity"
        )
        assert snapshot() == before

    def test_the_demo_operator_sees_all_four(self, light_demo, client):
        assert client.login(username="demo", password="canopy-demo")
        response = client.get("/c/internet-pros/tree/")
        assert response.status_code == 200
        assert response.content.decode().count('class="node ') == 6
