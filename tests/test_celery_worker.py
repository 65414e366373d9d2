"""A real Celery worker, consuming from Redis, runs the periodic tree check end to end."""

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection

from community.celery import app as celery_app
from subgroups import selectors
from subgroups.tasks import check_trees

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def real_worker(transactional_db):
    assert not celery_app.conf.task_always_eager, "REDIS_URL is set, so tasks must go through the broker"
    celery_app.loader.import_module("celery.contrib.testing.tasks")  # registers celery.ping
    celery_app.control.purge()  # tasks queued by earlier tests refer to rows long gone
    with start_worker(celery_app, pool="solo", perform_ping_check=True, shutdown_timeout=10) as worker:
        yield worker


def test_the_worker_finds_and_repairs_a_damaged_tree(real_worker, community, other_community):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE subgroups_group SET lft = lft + 3 WHERE community_id = %s", [community.pk])
    assert selectors.tree_problems()

    result = check_trees.delay().get(timeout=60)

    assert result["problems"] > 0 and result["communities"] == [community.pk] and result["repaired"] is True
    assert selectors.tree_problems() == []


def test_a_sound_forest_is_left_alone(real_worker, community):
    assert check_trees.delay().get(timeout=60) == {"problems": 0, "communities": [], "repaired": False}


def test_the_worker_writes_a_chinese_community_s_digest_in_chinese_under_its_english_default(real_worker):
    """Beat's weekly digest task on the real worker, whose thread speaks the server's default
    (English): a zh-hans community's digest still reads Chinese, an English one's English."""
    from datetime import timedelta

    from django.utils import timezone

    from content.models import Digest, Post, PostKind, ReviewDecision
    from content.services import posts
    from content.tasks import draft_digests
    from members import services as people
    from tests.factories import CommunityFactory, GroupFactory, MemberFactory

    for slug, language in (("zh-digest", "zh-hans"), ("en-digest", "en")):
        community = CommunityFactory(slug=slug, language=language)
        group = GroupFactory(parent=community.hub, name="摄影小群")
        author = MemberFactory(community=community, display_name="作者")
        people.membership_add(member=author, group=group, source="manual")
        post = posts.post_submit(group=group, author=author, kind=PostKind.KNOWLEDGE, title="构图", body="正文")
        posts.post_first_review(post=post, by=None, approve=True)
        posts.post_final_review(post=post, by=None, decision=ReviewDecision.FEATURED)
        Post.objects.filter(pk=post.pk).update(published_at=timezone.now() - timedelta(days=7))

    assert draft_digests.delay().get(timeout=60) == 2

    assert Digest.objects.get(community__slug="zh-digest").body.startswith("本周各小群精华：")
    assert Digest.objects.get(community__slug="en-digest").body.startswith("This week's best from our groups:")
