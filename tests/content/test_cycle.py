"""The content cycle around the posts: chat moderation, digests of featured posts, the content
calendar and its mix, and keyword auto-replies."""

import json
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from content.models import (
    Digest,
    DigestStatus,
    FlagStatus,
    ModerationFlag,
    Post,
    PostKind,
    PostSource,
    PostStatus,
    ReviewDecision,
    Schedule,
    ScheduleRun,
)
from content.services import autoreply, calendar, digests, moderation, posts
from content.tasks import draft_digests, run_calendar
from core.errors import ApplicationError
from members import services as people
from outbox.models import MessageKind, OutboundMessage
from subgroups import services as tree
from subgroups.models import Group, GroupStatus
from tests.factories import MemberFactory
from tests.personas import api_client, page_client

pytestmark = pytest.mark.django_db

SINCE = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def author(community, photo, coders):
    member = MemberFactory(community=community, display_name="林嘉琪")
    people.membership_add(member=member, group=photo, source="manual")
    people.membership_add(member=member, group=coders, source="manual")
    return member


def publish(group, author, *, title, kind=PostKind.KNOWLEDGE, featured=True, at=None) -> Post:
    post = posts.post_submit(group=group, author=author, kind=kind, title=title, body=f"{title}的正文")
    posts.post_first_review(post=post, by=None, approve=True)
    decision = ReviewDecision.FEATURED if featured else ReviewDecision.PUBLISHED
    posts.post_final_review(post=post, by=None, decision=decision)
    if at is not None:
        Post.objects.filter(pk=post.pk).update(published_at=at)
    return Post.objects.get(pk=post.pk)


# --- Chat moderation ------------------------------------------------------------------------


def test_a_clean_message_is_not_flagged(photo):
    assert moderation.message_scan(group=photo, platform="wechat", external_message_id="m1", text="大家好") is None
    assert not ModerationFlag.objects.exists()


def test_a_block_hit_flags_the_message_and_asks_for_a_recall_once(photo):
    for _ in range(2):  # the integration reports it twice
        flag = moderation.message_scan(
            group=photo, platform="wechat", external_message_id="m2", text="有需要代 开 发票的私聊"
        )
    assert ModerationFlag.objects.count() == 1
    assert flag.action == "block" and flag.hits[0]["word"] == "代开发票" and flag.status == FlagStatus.OPEN
    instruction = OutboundMessage.objects.get(kind=MessageKind.INSTRUCTION)
    assert json.loads(instruction.body) == {"action": "recall", "platform": "wechat", "message_id": "m2"}
    assert instruction.group == photo and instruction.recipient_platform == "wechat"


def test_a_warn_hit_warns_a_known_author(community, photo):
    member = MemberFactory(community=community, display_name="周一诺")
    from members.models import PlatformHandle

    PlatformHandle.objects.create(community=community, member=member, platform="wechat", external_id="wx-zhou")
    flag = moderation.message_scan(
        group=photo, platform="wechat", external_message_id="m3", text="你是不是脑残", author_external_id="wx-zhou"
    )
    assert flag.action == "warn" and flag.author == member
    assert member.warnings.count() == 1
    assert not OutboundMessage.objects.filter(kind=MessageKind.INSTRUCTION).exists()


def test_the_scan_api_answers_200_with_the_flag_or_204(community, photo, subtree_admin, sibling_admin):
    client = api_client(subtree_admin)
    data = {"group": photo.pk, "platform": "wechat", "external_message_id": "m4", "text": "网赌"}
    response = client.post("/api/v1/moderation/scan/", data, format="json")
    assert response.status_code == 200 and response.json()["action"] == "block"
    response = client.post("/api/v1/moderation/scan/", {**data, "external_message_id": "m5", "text": "你好"})
    assert response.status_code == 204
    response = api_client(sibling_admin).post("/api/v1/moderation/scan/", {**data, "external_message_id": "m6"})
    assert response.status_code == 400 and "group" in response.json()["extra"]["fields"]
    response = client.post("/api/v1/moderation/scan/", {**data, "platform": "myspace"})
    assert response.status_code == 400 and "platform" in response.json()["extra"]["fields"]


def test_flags_are_listed_for_the_groups_admins_and_resolved_once(community, photo, subtree_admin, sibling_admin):
    flag = moderation.message_scan(group=photo, platform="wechat", external_message_id="m7", text="滚蛋")
    assert [item["id"] for item in api_client(subtree_admin).get("/api/v1/moderation-flags/").json()["results"]] == [
        flag.pk
    ]
    assert api_client(sibling_admin).get("/api/v1/moderation-flags/").json()["results"] == []
    body = page_client(subtree_admin).get(reverse("content:flags", args=[community.slug])).content.decode()
    assert "滚蛋" in body
    for _ in range(2):
        response = api_client(subtree_admin).post(f"/api/v1/moderation-flags/{flag.pk}/resolve/", {})
        assert response.status_code == 200 and response.json()["status"] == "resolved"
    resolved_at = ModerationFlag.objects.get(pk=flag.pk).resolved_at
    assert resolved_at is not None
    assert api_client(subtree_admin).get("/api/v1/moderation-flags/").json()["results"] == []
    assert len(api_client(subtree_admin).get("/api/v1/moderation-flags/?status=resolved").json()["results"]) == 1


# --- Digests --------------------------------------------------------------------------------


def test_a_digest_collects_the_weeks_featured_posts_from_the_sub_groups(community, photo, coders, author, owner):
    monday = date(2026, 11, 9)
    inside = datetime(2026, 11, 12, 12, tzinfo=UTC)
    best = publish(photo, author, title="构图技巧", at=inside)
    also = publish(coders, author, title="Celery 踩坑", at=inside + timedelta(days=1))
    publish(photo, author, title="没被精选", featured=False, at=inside)
    publish(photo, author, title="上上周的", at=inside - timedelta(days=10))
    hub_post = posts.post_submit(
        group=community.hub, author=None, kind=PostKind.NEWS, title="主群动态", body="x", source=PostSource.STAFF
    )
    Post.objects.filter(pk=hub_post.pk).update(featured=True, published_at=inside)

    digest = digests.digest_draft(community=community, period_start=monday, period_end=monday + timedelta(days=7))
    assert set(digest.posts.all()) == {best, also}
    assert "构图技巧" in digest.body and "Celery 踩坑" in digest.body and digest.status == DigestStatus.DRAFT
    # Drafting the same week again gives the same draft.
    assert (
        digests.digest_draft(community=community, period_start=monday, period_end=monday + timedelta(days=7)) == digest
    )
    # Featured posts go into one digest only.
    later = digests.digest_draft(
        community=community, period_start=monday - timedelta(days=1), period_end=date(2026, 11, 20)
    )
    assert later is None


def test_the_period_is_the_communitys_local_week(community, photo, author):
    """Monday 07:00 in Shanghai is still Sunday in UTC: the post belongs to the new week."""
    monday = date(2026, 11, 16)
    publish(photo, author, title="周一早上", at=datetime(2026, 11, 15, 23, 0, tzinfo=UTC))
    assert digests.digest_draft(community=community, period_start=date(2026, 11, 9), period_end=monday) is None
    assert digests.digest_draft(community=community, period_start=monday, period_end=monday + timedelta(days=7))


def test_an_operator_edits_and_publishes_the_digest_to_the_hub(community, photo, author, owner, subtree_admin):
    publish(photo, author, title="构图技巧", at=timezone.now() - timedelta(days=2))
    client = page_client(owner)
    response = client.post(reverse("content:digests", args=[community.slug]))
    digest = Digest.objects.get(community=community)
    assert response.status_code == 302
    url = reverse("content:digest", args=[community.slug, digest.pk])
    # A subtree admin may read it but not change it.
    assert page_client(subtree_admin).get(url).status_code == 404  # the hub is not theirs to see
    response = client.post(url, {"title": "", "body": "x"})
    assert response.status_code == 400
    response = client.post(url, {"title": "本周精选", "body": "- 构图技巧", "action": "publish"})
    assert response.status_code == 302
    digest.refresh_from_db()
    assert digest.status == DigestStatus.PUBLISHED and digest.title == "本周精选"
    post = digest.published_post
    assert (post.group, post.kind, post.status) == (community.hub, PostKind.DIGEST, PostStatus.PUBLISHED)
    assert OutboundMessage.objects.filter(dedupe_key=f"post:{post.pk}", group=community.hub).exists()
    with pytest.raises(ApplicationError):
        digests.digest_publish(digest=digest, by=owner)
    assert Post.objects.filter(kind=PostKind.DIGEST).count() == 1


def test_a_digest_the_word_check_holds_back_is_not_published(community, photo, author, owner):
    publish(photo, author, title="构图技巧", at=timezone.now() - timedelta(days=2))
    digest = digests.digest_draft(
        community=community, period_start=timezone.localdate() - timedelta(days=7), period_end=timezone.localdate()
    )
    digests.digest_update(digest=digest, title="本周精选", body="欢迎来网赌")
    with pytest.raises(ApplicationError) as error:
        digests.digest_publish(digest=digest, by=owner)
    assert "网赌" in error.value.message
    digest.refresh_from_db()
    assert digest.status == DigestStatus.DRAFT and not Post.objects.filter(kind=PostKind.DIGEST).exists()


def test_the_weekly_task_drafts_last_week_for_every_community(community, other_community, photo, author):
    last_week = timezone.now() - timedelta(days=7)
    publish(photo, author, title="构图技巧", at=last_week)
    assert draft_digests.apply().get() == 1
    assert draft_digests.apply().get() == 1  # the same draft again, not a second one
    assert Digest.objects.filter(community=community).count() == 1
    assert not Digest.objects.filter(community=other_community).exists()  # nothing featured there


def test_each_community_gets_its_own_last_week(community, other_community, photo, author):
    """Monday 01:00 UTC is Monday morning in Shanghai but still Sunday in Los Angeles, whose
    week is not over: it is not drafted yet."""
    tree.community_update(community=other_community, time_zone="America/Los_Angeles")
    beijing = Group.objects.get(community=other_community, name="北京车友群")
    driver = MemberFactory(community=other_community, display_name="车主")
    people.membership_add(member=driver, group=beijing, source="manual")
    publish(photo, author, title="上海这周", at=datetime(2026, 11, 18, 4, tzinfo=UTC))
    publish(beijing, driver, title="洛杉矶这周", at=datetime(2026, 11, 20, 20, tzinfo=UTC))

    assert digests.digests_draft_last_week(now=datetime(2026, 11, 23, 1, tzinfo=UTC)) == 1
    assert Digest.objects.get(community=community).period_start == date(2026, 11, 16)
    assert not Digest.objects.filter(community=other_community).exists()
    # A day later Los Angeles' week is over too.
    assert digests.digests_draft_last_week(now=datetime(2026, 11, 24, 1, tzinfo=UTC)) == 2
    assert Digest.objects.get(community=other_community).period_start == date(2026, 11, 16)


# --- The calendar ---------------------------------------------------------------------------


@pytest.fixture
def knowledge(community):
    """Knowledge every Tuesday and Thursday at 20:00 Shanghai time (12:00 UTC)."""
    schedule = calendar.schedule_create(
        group=community.hub, kind=PostKind.KNOWLEDGE, title="干货分享", body="本期干货", weekdays=[1, 3], at=time(20, 0)
    )
    Schedule.objects.filter(pk=schedule.pk).update(active_since=SINCE)  # made before the days these tests play
    schedule.refresh_from_db()
    return schedule


def test_a_schedule_pushes_once_at_its_local_time(community, knowledge):
    tuesday = datetime(2026, 11, 17, tzinfo=UTC)  # a Tuesday
    assert calendar.calendar_run(now=tuesday.replace(hour=11, minute=59)) == 0  # 19:59 in Shanghai
    assert calendar.calendar_run(now=tuesday.replace(hour=12, minute=0)) == 1
    assert calendar.calendar_run(now=tuesday.replace(hour=12, minute=1)) == 0  # already pushed today
    assert calendar.calendar_run(now=tuesday.replace(hour=15)) == 0
    assert calendar.calendar_run(now=tuesday.replace(hour=23)) == 0
    post = Post.objects.get(source=PostSource.CALENDAR)
    assert (post.group, post.kind, post.status) == (community.hub, PostKind.KNOWLEDGE, PostStatus.PUBLISHED)
    assert OutboundMessage.objects.filter(dedupe_key=f"post:{post.pk}").count() == 1
    assert ScheduleRun.objects.get().day == date(2026, 11, 17)
    # Wednesday is not a knowledge day; Thursday is.
    assert calendar.calendar_run(now=datetime(2026, 11, 18, 13, tzinfo=UTC)) == 0
    assert calendar.calendar_run(now=datetime(2026, 11, 19, 13, tzinfo=UTC)) == 1


def test_the_local_day_decides_not_the_utc_day(community, knowledge):
    """20:00 on Tuesday in Los Angeles is 04:00 on Wednesday in UTC."""
    tree.community_update(community=community, time_zone="America/Los_Angeles")
    assert calendar.calendar_run(now=datetime(2026, 11, 18, 4, 0, tzinfo=UTC)) == 1
    assert ScheduleRun.objects.get().day == date(2026, 11, 17)


def test_a_push_more_than_three_hours_late_is_skipped(community, knowledge):
    """Beat was down all evening: the 20:00 knowledge post does not go out at midnight."""
    assert calendar.calendar_run(now=datetime(2026, 11, 17, 15, 1, tzinfo=UTC)) == 0  # 23:01 in Shanghai
    assert calendar.calendar_run(now=datetime(2026, 11, 17, 14, 59, tzinfo=UTC)) == 1  # 22:59: still on time


def test_a_new_or_resumed_schedule_does_not_push_a_slot_already_past(community, knowledge):
    tuesday_evening = datetime(2026, 11, 17, 12, 30, tzinfo=UTC)  # 20:30 in Shanghai
    Schedule.objects.filter(pk=knowledge.pk).update(active_since=datetime(2026, 11, 17, 12, 15, tzinfo=UTC))
    assert calendar.calendar_run(now=tuesday_evening) == 0  # created at 20:15, after today's 20:00
    assert calendar.calendar_run(now=datetime(2026, 11, 19, 12, 0, tzinfo=UTC)) == 1  # Thursday's goes

    calendar.schedule_update(schedule=knowledge, is_active=False)
    calendar.schedule_update(schedule=knowledge, is_active=True)
    assert Schedule.objects.get(pk=knowledge.pk).active_since > timezone.now() - timedelta(minutes=1)
    calendar.schedule_update(schedule=knowledge, is_active=True)  # already active: no new start
    assert Schedule.objects.get(pk=knowledge.pk).is_active


def test_paused_schedules_and_archived_groups_push_nothing(community, photo, knowledge):
    calendar.schedule_update(schedule=knowledge, is_active=False)
    in_photo = calendar.schedule_create(
        group=photo, kind=PostKind.TOPIC, title="话题日", body="今天聊构图", weekdays=[1], at=time(9, 0)
    )
    Schedule.objects.filter(pk=in_photo.pk).update(active_since=SINCE)
    type(photo).objects.filter(pk=photo.pk).update(status=GroupStatus.ARCHIVED, archived_at=timezone.now())
    assert calendar.calendar_run(now=datetime(2026, 11, 17, 13, tzinfo=UTC)) == 0
    assert in_photo.pk and not Post.objects.exists()


def test_the_beat_task_runs_the_calendar(community, knowledge):
    # Whatever the day, the task creates at most one post per due schedule and says how many.
    created = run_calendar.apply().get()
    assert created == Post.objects.filter(source=PostSource.CALENDAR).count() <= 1
    assert run_calendar.apply().get() == 0


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"weekdays": []}, "weekdays"),
        ({"weekdays": [7]}, "weekdays"),
        ({"weekdays": [True]}, "weekdays"),
        ({"kind": PostKind.DIGEST}, "kind"),
        ({"title": ""}, "title"),
        ({"at": "20:00"}, "time"),
    ],
)
def test_bad_schedules_are_refused(community, values, field):
    base = {"kind": PostKind.FUN, "title": "轻松一刻", "body": "笑一笑", "weekdays": [4], "at": time(21, 0)}
    with pytest.raises(ApplicationError) as error:
        calendar.schedule_create(group=community.hub, **{**base, **values})
    assert field in error.value.extra["fields"]
    assert not Schedule.objects.exists()


def test_the_calendar_page_shows_the_coming_weeks_and_the_mix(community, photo, author, owner, knowledge):
    publish(photo, author, title="干货一", at=timezone.now() - timedelta(days=1))
    publish(photo, author, title="干货二", at=timezone.now() - timedelta(days=1))
    publish(photo, author, title="段子", kind=PostKind.FUN, at=timezone.now() - timedelta(days=1))
    publish(photo, author, title="走心", kind=PostKind.EMOTIONAL, at=timezone.now() - timedelta(days=40))
    mix = calendar.content_mix(groups=type(photo).objects.filter(community=community))
    assert mix.counts == {"value": 2, "fun": 1, "emotional": 0} and mix.percents == {
        "value": 67,
        "fun": 33,
        "emotional": 0,
    }
    assert mix.target == {"value": 70, "fun": 20, "emotional": 10}
    response = page_client(owner).get(reverse("content:calendar", args=[community.slug]))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("干货分享") >= 6  # three weeks of Tuesdays and Thursdays
    assert response.context["mix_chart"]["actual"] == [67, 33, 0]


def test_upcoming_slots_are_in_local_time(community, knowledge):
    slots = calendar.upcoming(
        community=community,
        schedules=Schedule.objects.all(),
        days=7,
        now=datetime(2026, 11, 17, 12, 30, tzinfo=UTC),  # Tuesday 20:30 in Shanghai: today's has passed
    )
    assert [(slot.when.date(), slot.when.hour) for slot in slots] == [(date(2026, 11, 19), 20)]


# --- Auto-replies ---------------------------------------------------------------------------


def test_the_groups_rules_come_first_then_its_ancestors(community, design, photo):
    autoreply.auto_reply_create(group=community.hub, keyword="群规", reply="主群群规", priority=10)
    autoreply.auto_reply_create(group=photo, keyword="群规", reply="摄影群群规")
    autoreply.auto_reply_create(group=photo, keyword="器材", reply="器材表", match="exact")
    autoreply.auto_reply_create(group=photo, keyword="器材推荐", reply="看置顶", priority=5)
    assert autoreply.auto_reply_find(group=photo, text="请问群规是什么").reply == "摄影群群规"
    assert autoreply.auto_reply_find(group=design, text="群 规？").reply == "主群群规"
    assert autoreply.auto_reply_find(group=photo, text="ＱＱ器材") is None  # exact means the whole message
    assert autoreply.auto_reply_find(group=photo, text="器材！").reply == "器材表"  # punctuation aside
    assert autoreply.auto_reply_find(group=photo, text="有什么器材推荐吗").reply == "看置顶"
    assert autoreply.auto_reply_find(group=photo, text="你好") is None


def test_the_auto_reply_api_answers_200_or_204(community, photo, subtree_admin, outsider):
    rule = autoreply.auto_reply_create(group=photo, keyword="资料", reply="见群公告")
    client = api_client(subtree_admin)
    response = client.post(f"/api/v1/groups/{photo.pk}/auto-reply/", {"text": "求资料"}, format="json")
    assert response.status_code == 200 and response.json() == {"rule": rule.pk, "reply": "见群公告"}
    response = client.post(f"/api/v1/groups/{photo.pk}/auto-reply/", {"text": "早上好"}, format="json")
    assert response.status_code == 204 and response.content == b""
    response = client.post(f"/api/v1/groups/{photo.pk}/auto-reply/", {}, format="json")
    assert response.status_code == 400 and "text" in response.json()["extra"]["fields"]
    response = api_client(outsider).post(f"/api/v1/groups/{photo.pk}/auto-reply/", {"text": "求资料"})
    assert response.status_code == 404


def test_rules_are_managed_from_their_page(community, photo, subtree_admin, sibling_admin):
    url = reverse("content:auto_replies", args=[community.slug])
    data = {"group": photo.pk, "keyword": "活动", "match": "contains", "reply": "周六见", "priority": 0}
    assert page_client(sibling_admin).post(url, data).status_code == 400  # not one of their groups
    assert page_client(subtree_admin).post(url, data).status_code == 302
    rule = photo.auto_replies.get()
    assert page_client(sibling_admin).post(url, {"action": "delete", "id": rule.pk}).status_code == 404
    assert page_client(subtree_admin).post(url, {"action": "delete", "id": rule.pk}).status_code == 302
    assert not photo.auto_replies.exists()
