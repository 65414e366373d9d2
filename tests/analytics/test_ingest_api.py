"""POST /api/v1/events/: batches from integrations."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import AnalyticsSettings, Event
from content.models import ModerationFlag
from content.services import lexicon
from members.models import Member, Membership, MembershipStatus, PlatformHandle
from outbox.models import OutboundMessage
from tests.personas import api_client

pytestmark = pytest.mark.django_db
URL = "/api/v1/events/"


def event(target, n: int, **extra) -> dict:
    return {
        "type": "message",
        "group": target.pk,
        "user_id": f"wx-{n % 7}",
        "occurred_at": (timezone.now() - timedelta(minutes=n)).isoformat(),
        "event_id": f"ev-{n}",
    } | extra


@pytest.fixture
def bot(owner):
    return api_client(owner)


class TestBatches:
    def test_it_stores_a_batch_and_creates_unknown_members(self, bot, community):
        response = bot.post(URL, {"events": [event(community.hub, n, user_name="小王") for n in range(20)]})
        assert response.status_code == 200, response.content
        assert response.json() == {"accepted": 20, "duplicates": 0, "rejected": 0, "members_created": 7, "errors": []}
        assert Event.objects.count() == 20
        handle = PlatformHandle.objects.get(community=community, external_id="wx-3")
        assert handle.member.display_name == "小王" and handle.platform == community.hub.platform
        # Acting in the hub made them members of it, from the first time they were seen.
        membership = Membership.objects.get(member=handle.member, group=community.hub)
        assert membership.source == "platform" and membership.status == MembershipStatus.ACTIVE

    def test_a_retried_batch_changes_nothing(self, bot, community):
        batch = {"events": [event(community.hub, n) for n in range(10)]}
        bot.post(URL, batch)
        again = bot.post(URL, batch).json()
        assert (again["accepted"], again["duplicates"], again["members_created"]) == (0, 10, 0)
        assert Event.objects.count() == 10 and Member.objects.filter(community=community).count() == 7 + 1

    def test_a_duplicate_inside_one_batch_counts_once(self, bot, community):
        body = bot.post(URL, {"events": [event(community.hub, 1), event(community.hub, 1)]}).json()
        assert (body["accepted"], body["duplicates"]) == (1, 1)

    def test_bad_items_never_sink_good_ones(self, bot, community):
        good = [event(community.hub, n) for n in range(3)]
        bad = [
            event(community.hub, 10, occurred_at="2026-13-45T99:00:00+08:00"),
            event(community.hub, 11, occurred_at="2026-11-20T10:00:00"),  # no time zone
            event(community.hub, 12, type="teleport"),
            event(community.hub, 13, group=999_999),
            "not an object",
            event(community.hub, 14, value="lots"),
            event(community.hub, 15, occurred_at=(timezone.now() + timedelta(days=1)).isoformat()),
        ]
        response = bot.post(URL, {"events": good + bad})
        body = response.json()
        assert response.status_code == 200
        assert (body["accepted"], body["rejected"]) == (3, 7)
        errors = {error["index"]: error["fields"] for error in body["errors"]}
        assert set(errors[3]) == {"occurred_at"} and "ISO 8601" in errors[3]["occurred_at"]
        assert "time zone" in errors[4]["occurred_at"]
        assert set(errors[5]) == {"type"}
        assert errors[6] == {"group": "No such group."}
        assert "non_field_errors" in errors[7]
        assert set(errors[8]) == {"value"}
        assert "future" in errors[9]["occurred_at"]
        assert [error["event_id"] for error in body["errors"]][:2] == ["ev-10", "ev-11"]

    def test_values_of_the_wrong_type_are_field_errors(self, bot, community):
        odd = [
            event(community.hub, 1, type=["message"]),
            event(community.hub, 2, platform=[None, None]),
            event(community.hub, 3, user_id={"id": 1}),
            event(community.hub, 4, occurred_at=1700000000),
            event(community.hub, 5, group={"id": 1}),
            event(community.hub, 6, is_question="yes", text=["a"]),
        ]
        response = bot.post(URL, {"events": odd})
        assert response.status_code == 400
        fields = response.json()["extra"]["fields"]["events"]
        assert [sorted(fields[str(index)]) for index in range(6)] == [
            ["type"],
            ["platform"],
            ["user_id"],
            ["occurred_at"],
            ["group"],
            ["is_question", "text"],
        ]

    def test_a_batch_with_nothing_storable_is_a_400_with_details(self, bot, community):
        response = bot.post(URL, {"events": [event(community.hub, 1, occurred_at="yesterday")]})
        assert response.status_code == 400
        body = response.json()
        assert body["message"] == "No event in the batch could be stored."
        assert "occurred_at" in body["extra"]["fields"]["events"]["0"]
        assert Event.objects.count() == 0

    def test_malformed_json_is_a_400(self, bot):
        response = bot.generic("POST", URL, '{"events": [', content_type="application/json")
        assert response.status_code == 400
        assert "JSON" in response.json()["message"]

    @pytest.mark.parametrize("body", [[], {"events": "x"}, {"events": []}, {"other": 1}])
    def test_the_wrong_shape_is_a_400_with_the_field(self, bot, body):
        response = bot.post(URL, body, format="json")
        assert response.status_code == 400
        assert "events" in response.json()["extra"]["fields"]

    def test_at_most_5000_a_batch(self, bot, community):
        response = bot.post(URL, {"events": [event(community.hub, n) for n in range(5001)]})
        assert response.status_code == 400
        assert "5000" in response.json()["message"]
        assert Event.objects.count() == 0

    def test_a_group_by_its_platform_id(self, bot, community, design):
        design.external_id = "wx-room-42"
        design.save()
        body = bot.post(
            URL,
            {"events": [event(design, 1, group=None, group_platform=design.platform, group_external_id="wx-room-42")]},
        ).json()
        assert body["accepted"] == 1 and Event.objects.get().group == design


class TestJoinsAndLeaves:
    def test_they_open_and_close_memberships(self, bot, design):
        joined = (timezone.now() - timedelta(days=3)).isoformat()
        left = (timezone.now() - timedelta(days=1)).isoformat()
        bot.post(
            URL,
            {
                "events": [
                    event(design, 1, type="leave", user_id="newbie", occurred_at=left),
                    event(design, 2, type="join", user_id="newbie", occurred_at=joined),
                ]
            },
        )
        membership = Membership.objects.get(group=design, member__handles__external_id="newbie")
        assert membership.status == MembershipStatus.LEFT
        assert membership.joined_at.isoformat() == joined and membership.left_at.isoformat() == left
        design.refresh_from_db()
        assert design.member_count == 0


class TestText:
    def test_only_length_and_hash_are_kept_by_default(self, bot, community):
        bot.post(URL, {"events": [event(community.hub, 1, text="今晚八点直播")]})
        stored = Event.objects.get()
        assert (stored.text_length, stored.text) == (6, "")
        assert len(stored.text_hash) == 64

    def test_a_community_may_keep_texts(self, bot, community):
        AnalyticsSettings.objects.create(community=community, keep_message_text=True)
        bot.post(URL, {"events": [event(community.hub, 1, text="今晚八点直播")]})
        assert Event.objects.get().text == "今晚八点直播"

    def test_the_word_engine_scans_it(self, bot, community):
        lexicon.word_add(community=community, word="代开发票", category="custom", action="block")
        bot.post(URL, {"events": [event(community.hub, 1, text="需要代 开 发 票的私聊")]})
        flag = ModerationFlag.objects.get()
        assert flag.external_message_id == "ev-1" and flag.action == "block"
        assert OutboundMessage.objects.filter(kind="instruction").count() == 1
        # A retried batch is not scanned again.
        bot.post(URL, {"events": [event(community.hub, 1, text="需要代 开 发 票的私聊")]})
        assert ModerationFlag.objects.count() == 1

    @pytest.mark.postgres
    def test_a_scan_that_fails_takes_the_batch_with_it_so_the_retry_scans_again(self, community):
        """Scan and store succeed or fail together. The database refuses the flag (a trigger that
        raises, as a real fault would): nothing of the batch is kept, and the bot's retry stores
        the events and files the flag, instead of reading "duplicates" and leaving spam unflagged."""
        from django.db import DatabaseError, connection

        from analytics.services.ingest import events_ingest

        lexicon.word_add(community=community, word="代开发票", category="custom", action="block")
        batch = [event(community.hub, n, text="需要代开发票的私聊" if n == 1 else "早上好") for n in range(3)]
        table = ModerationFlag._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE FUNCTION refuse_flag() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER refuse_flag BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION refuse_flag()"
            )

        with pytest.raises(DatabaseError):
            events_ingest(raw_events=batch, groups=[community.hub])
        assert Event.objects.count() == 0 and ModerationFlag.objects.count() == 0

        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER refuse_flag ON {table}")
            cursor.execute("DROP FUNCTION refuse_flag()")
        result = events_ingest(raw_events=batch, groups=[community.hub])

        assert (result.accepted, result.duplicates) == (3, 0)
        assert ModerationFlag.objects.get().external_message_id == "ev-1"
        assert OutboundMessage.objects.filter(kind="instruction").count() == 1

    def test_questions_are_recognised(self, bot, community):
        bot.post(
            URL,
            {
                "events": [
                    event(community.hub, 1, text="请问明天几点开始？"),
                    event(community.hub, 2, text="明天见"),
                    event(community.hub, 3, text="报名了吗"),
                ]
            },
        )
        assert dict(Event.objects.values_list("external_id", "is_question")) == {
            "ev-1": True,
            "ev-2": False,
            "ev-3": True,
        }


class TestScope:
    def test_an_outsider_stores_nothing(self, outsider, community):
        response = api_client(outsider).post(URL, {"events": [event(community.hub, 1)]})
        assert response.status_code == 400
        assert response.json()["extra"]["fields"]["events"]["0"] == {"group": "No such group."}
        assert Event.objects.count() == 0

    def test_a_subtree_admin_writes_to_their_subtree_only(self, subtree_admin, community, design, photo, coders):
        body = (
            api_client(subtree_admin)
            .post(URL, {"events": [event(design, 1), event(photo, 2), event(coders, 3), event(community.hub, 4)]})
            .json()
        )
        assert (body["accepted"], body["rejected"]) == (2, 2)

    def test_a_member_without_a_role_writes_nothing(self, plain_member, design):
        assert api_client(plain_member).post(URL, {"events": [event(design, 1)]}).status_code == 400

    def test_anonymous_is_refused(self, client, community):
        response = client.post(URL, json.dumps({"events": []}), content_type="application/json")
        assert response.status_code in (401, 403)


class TestGroupMetrics:
    def test_it_lists_the_days(self, bot, community):
        from analytics.services.metrics import metrics_compute

        bot.post(URL, {"events": [event(community.hub, n) for n in range(5)]})
        metrics_compute(community=community)
        rows = bot.get(f"/api/v1/groups/{community.hub.pk}/metrics/").json()
        assert rows[-1]["members"] == 5 + 1 and rows[-1]["messages"] >= 1

    def test_outsiders_get_404_and_bad_days_a_400(self, outsider, bot, community):
        assert api_client(outsider).get(f"/api/v1/groups/{community.hub.pk}/metrics/").status_code == 404
        response = bot.get(f"/api/v1/groups/{community.hub.pk}/metrics/?days=x")
        assert response.status_code == 400 and "days" in response.json()["extra"]["fields"]


def test_a_platform_past_capacity_is_believed_and_never_wedges_ingestion(bot, community, owner):
    """The platform is the truth about who is in a chat: a 3rd member of a group of capacity 2
    is recorded, the group reads over capacity, and later batches keep landing."""
    from subgroups.models import Group

    group = Group.objects.get(name="摄影群")
    Group.objects.filter(pk=group.pk).update(capacity=2)
    for n in range(4):
        batch = {"events": [event(group, n, user_id=f"tg-cap-{n}", event_id=f"cap-{n}")]}
        response = bot.post(URL, batch)
        assert response.status_code == 200, response.content
        assert response.json()["accepted"] == 1
    group.refresh_from_db()
    assert group.member_count == 4 and group.over_capacity and group.status == "full"
    assert group.over_capacity_since is not None
    detail = bot.get(f"/api/v1/groups/{group.pk}/").json()
    assert detail["over_capacity"] is True and detail["member_count"] == 4
    # The community's overview alerts whoever runs it.
    from tests.personas import page_client

    overview = page_client(owner).get(f"/c/{community.slug}/").content.decode()
    assert 'data-testid="over-capacity"' in overview and "摄影群 has 4 members for a capacity of 2" in overview
    # Canopy itself still admits no one past capacity.
    from members.services import people

    with pytest.raises(people.GroupFull):
        people.membership_add(
            member=people.member_create(community=community, display_name="新人"), group=group, source="manual"
        )
