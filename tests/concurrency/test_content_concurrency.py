"""Real concurrent connections on PostgreSQL against the content services: reviewers racing
on one post, the calendar beat running twice, an integration reporting a message twice, two
workers on one webhook, and one digest published twice."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, time, timedelta

import pytest

from content.models import (
    Digest,
    DigestStatus,
    ModerationFlag,
    Post,
    PostKind,
    PostStatus,
    ReviewDecision,
    ReviewStage,
    ReviewStep,
    Schedule,
    ScheduleRun,
)
from content.services import calendar, digests, moderation, posts
from core.errors import ApplicationError
from members import services as people
from outbox.models import MessageKind, OutboundMessage
from tests.concurrency.test_tree_concurrency import THREADS, run_at_once
from tests.factories import CommunityFactory, GroupFactory, MemberFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def group():
    community = CommunityFactory()
    return GroupFactory(parent=community.hub, name="摄影群")


def _post(group) -> Post:
    member = MemberFactory(community=group.community)
    people.membership_add(member=member, group=group, source="manual")
    return posts.post_submit(group=group, author=member, kind=PostKind.KNOWLEDGE, title="构图", body="三分法")


def _reviewers(community, count: int = THREADS):
    return [UserFactory(username=f"reviewer{index}", operator_of=[community]) for index in range(count)]


def test_reviewers_deciding_one_post_at_once_give_exactly_one_decision(group):
    post = _post(group)
    reviewers = _reviewers(group.community)
    outcomes: list[str] = []

    def decide(index: int) -> None:
        try:
            posts.post_first_review(
                post=Post.objects.get(pk=post.pk), by=reviewers[index], approve=index % 2 == 0, note=f"理由{index}"
            )
            outcomes.append("decided")
        except ApplicationError:
            outcomes.append("refused")

    assert run_at_once(decide) == []
    assert sorted(outcomes) == ["decided"] + ["refused"] * (THREADS - 1)
    steps = ReviewStep.objects.filter(post=post, stage=ReviewStage.FIRST)
    assert steps.count() == 1
    post.refresh_from_db()
    expected = PostStatus.FINAL_REVIEW if steps.get().decision == ReviewDecision.APPROVED else PostStatus.REJECTED
    assert post.status == expected


def test_owners_publishing_one_post_at_once_push_it_once(group):
    post = _post(group)
    posts.post_first_review(post=post, by=None, approve=True)
    owners = _reviewers(group.community)

    def publish(index: int) -> None:
        decision = ReviewDecision.FEATURED if index % 2 else ReviewDecision.PUBLISHED
        with contextlib.suppress(ApplicationError):  # all but one are told someone decided first
            posts.post_final_review(post=Post.objects.get(pk=post.pk), by=owners[index], decision=decision)

    assert run_at_once(publish) == []
    assert ReviewStep.objects.filter(post=post, stage=ReviewStage.FINAL).count() == 1
    assert OutboundMessage.objects.filter(dedupe_key=f"post:{post.pk}").count() == 1
    assert Post.objects.get(pk=post.pk).status == PostStatus.PUBLISHED


def test_the_calendar_running_twice_at_once_pushes_once(group):
    schedule = calendar.schedule_create(
        group=group, kind=PostKind.KNOWLEDGE, title="干货", body="本期干货", weekdays=[1], at=time(20, 0)
    )
    Schedule.objects.filter(pk=schedule.pk).update(active_since=datetime(2026, 11, 1, tzinfo=UTC))
    tuesday_evening = datetime(2026, 11, 17, 12, 30, tzinfo=UTC)

    assert run_at_once(lambda index: calendar.calendar_run(now=tuesday_evening)) == []
    assert ScheduleRun.objects.count() == 1
    assert Post.objects.filter(group=group, kind=PostKind.KNOWLEDGE).count() == 1
    assert OutboundMessage.objects.filter(group=group, kind=MessageKind.PUSH).count() == 1


def test_one_chat_message_reported_at_once_is_flagged_and_recalled_once(group):
    def report(index: int) -> None:
        moderation.message_scan(group=group, platform="wechat", external_message_id="m-1", text="代开发票，私聊")

    assert run_at_once(report) == []
    assert ModerationFlag.objects.count() == 1
    assert OutboundMessage.objects.filter(kind=MessageKind.INSTRUCTION).count() == 1


def test_warnings_at_once_open_one_member_flag(group):
    member = MemberFactory(community=group.community)
    people.membership_add(member=member, group=group, source="manual")

    def warn(index: int) -> None:
        posts.post_submit(group=group, author=member, kind=PostKind.TOPIC, title="吐槽", body=f"脑残{index}")

    assert run_at_once(warn) == []
    assert member.warnings.count() == THREADS
    assert member.flags.filter(status="open").count() == 1


def test_publishing_one_digest_at_once_publishes_it_once(group):
    post = _post(group)
    posts.post_first_review(post=post, by=None, approve=True)
    posts.post_final_review(post=post, by=None, decision=ReviewDecision.FEATURED)
    Post.objects.filter(pk=post.pk).update(published_at=datetime(2026, 11, 10, 4, tzinfo=UTC))
    digest = digests.digest_draft(
        community=group.community, period_start=date(2026, 11, 9), period_end=date(2026, 11, 9) + timedelta(days=7)
    )

    def publish(index: int) -> None:
        with contextlib.suppress(ApplicationError):  # all but one are told it is published already
            digests.digest_publish(digest=Digest.objects.get(pk=digest.pk), by=None)

    assert run_at_once(publish) == []
    assert Digest.objects.get(pk=digest.pk).status == DigestStatus.PUBLISHED
    assert Post.objects.filter(kind=PostKind.DIGEST).count() == 1


def test_overlapping_digests_drafted_at_once_share_no_post(group):
    post = _post(group)
    posts.post_first_review(post=post, by=None, approve=True)
    posts.post_final_review(post=post, by=None, decision=ReviewDecision.FEATURED)
    Post.objects.filter(pk=post.pk).update(published_at=datetime(2026, 11, 12, 4, tzinfo=UTC))

    def draft(index: int) -> None:
        start = date(2026, 11, 9) + timedelta(days=index % 3)  # three different, overlapping periods
        digests.digest_draft(community=group.community, period_start=start, period_end=date(2026, 11, 16))

    assert run_at_once(draft) == []
    assert Digest.objects.count() == 1 and Digest.objects.get().posts.get() == post


def test_two_workers_on_one_webhook_message_deliver_it_once(group):
    import http.server
    import threading

    hits: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            hits.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        from outbox import services as outbox

        outbox.integration_create(
            community=group.community, name="机器人", webhook_url=f"http://127.0.0.1:{server.server_address[1]}/"
        )
        message = outbox.message_enqueue(group=group, kind=MessageKind.WELCOME, body="欢迎")
        results: list[str] = []
        assert run_at_once(lambda index: results.append(outbox.webhook_deliver(message_id=message.pk))) == []
        assert sorted(results) == ["delivered"] + ["skipped"] * (THREADS - 1)
        assert len(hits) == 1
    finally:
        server.shutdown()
        server.server_close()
