"""The engagement pages: the overview, members' points and ledgers, the shop, the rules and
levels, organised events, and the member's own page with its CSRF-protected buttons."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from analytics.services.ingest import events_ingest
from engagement.models import CheckIn, Level, OrganisedEvent, Redemption, RedemptionStatus, RewardItem
from engagement.services.levels import levels_for
from engagement.services.passes import member_pass
from engagement.services.points import points_rules
from engagement.services.shop import reward_redeem, reward_save
from members.models import PointsEntry
from members.services.points import points_balance
from tests.engagement.conftest import check_in_days, days_ago, grant, published_post
from tests.personas import page_client

pytestmark = pytest.mark.django_db


def url(name: str, community, *args) -> str:
    return reverse(f"engagement:{name}", args=[community.slug, *args])


# --- Overview ------------------------------------------------------------------------------------


def test_the_overview_counts_check_ins_streaks_and_points(community, owner, alice, bob):
    check_in_days(alice, *range(7, -1, -1))  # 8 days in a row, today included
    check_in_days(bob, 10, 1)
    grant(bob, 40)
    item = reward_save(community=community, name="贴纸", cost=20)
    reward_redeem(member=bob, item=item)
    response = page_client(owner).get(url("overview", community))
    assert response.status_code == 200
    stats = response.context["stats"]
    assert stats["check_ins_today"] == 1
    assert stats["check_ins_week"] == 7 + 1
    assert stats["on_streak"] == 1
    assert stats["spent"] == 20 and stats["redemptions_month"] == 1 and stats["redemptions_pending"] == 1
    assert sum(stats["chart"]["datasets"][0]["data"]) == 10
    assert "Run the sweeps now" in response.content.decode()


def test_the_overview_is_scoped_to_the_groups_one_sees(community, subtree_admin, alice, bob):
    check_in_days(alice, 0)  # 摄影群, under the admin's 设计美学交流群
    check_in_days(bob, 0)  # 程序员技术群, a sibling
    response = page_client(subtree_admin).get(url("overview", community))
    assert response.context["stats"]["check_ins_today"] == 1
    assert [entry.member for entry, _label in response.context["recent"]] == [alice]
    assert "Run the sweeps now" not in response.content.decode()


def test_running_the_sweeps_from_the_overview(
    community, owner, alice, photo, eager_tasks, django_capture_on_commit_callbacks
):
    published_post(photo, alice, featured=True)
    events_ingest(
        raw_events=[
            {
                "type": "check_in",
                "group": photo.pk,
                "user_id": "wx-alice",
                "occurred_at": days_ago(1).isoformat(),
                "event_id": "e1",
            }
        ],
        groups=[photo],
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = page_client(owner).post(url("sweep", community))
    assert response.status_code == 302
    assert CheckIn.objects.filter(member=alice).count() == 1
    assert points_balance(member=alice) == 5 + 10 + 30


# --- Members and ledgers --------------------------------------------------------------------------


def test_the_members_page_sorts_by_points_and_shows_standing(community, owner, alice, bob):
    grant(alice, 120)
    grant(bob, 500)
    check_in_days(alice, 1, 0)
    response = page_client(owner).get(url("members", community), {"sort": "lifetime"})
    rows = response.context["rows"]
    assert [row["member"] for row in rows[:2]] == [bob, alice]
    assert rows[1]["standing"].balance == 130 and rows[1]["standing"].streak.current == 2
    assert rows[0]["standing"].level.name == "Contributor"
    found = page_client(owner).get(url("members", community), {"q": "小爱"}).context["rows"]
    assert [row["member"] for row in found] == [alice]


def test_the_ledger_page_shows_a_running_balance_and_exports(community, owner, alice):
    grant(alice, 100)
    check_in_days(alice, 1)
    item = reward_save(community=community, name="贴纸", cost=30)
    reward_redeem(member=alice, item=item)
    client = page_client(owner)
    response = client.get(url("member", community, alice.pk))
    assert response.status_code == 200
    lines = response.context["lines"]
    assert [line.balance for line in lines] == [75, 105, 5], "the check-in is dated yesterday"
    assert response.context["standing"].balance == 75 and response.context["standing"].lifetime == 105
    assert "/me/" in response.context["pass_url"]
    exported = client.get(url("member", community, alice.pk), {"export": "csv"})
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["When", "Reason", "Note", "Points", "Balance"]
    assert [row[4] for row in rows[1:]] == ["5", "105", "75"]
    assert client.get(url("member", community, alice.pk), {"export": "xlsx"})["Content-Type"].startswith(
        "application/vnd.openxmlformats"
    )


def test_a_member_outside_ones_groups_is_a_404(community, subtree_admin, bob):
    assert page_client(subtree_admin).get(url("member", community, bob.pk)).status_code == 404


# --- The shop ------------------------------------------------------------------------------------


def test_managers_add_and_edit_rewards(community, owner):
    levels_for(community=community)
    client = page_client(owner)
    level = Level.objects.get(community=community, threshold=300)
    response = client.post(
        url("shop", community),
        {
            "name": "《作文模板大全》",
            "cost": "80",
            "stock": "10",
            "requires_level": level.pk,
            "requires_streak": "0",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content
    item = RewardItem.objects.get(community=community)
    assert (item.cost, item.stock, item.requires_level) == (80, 10, level)
    response = client.post(url("item", community, item.pk), {"name": item.name, "cost": "0", "requires_streak": "0"})
    assert response.status_code == 400 and "cost" in response.context["form"].errors
    response = client.post(url("item", community, item.pk), {"name": "新名字", "cost": "90", "requires_streak": "7"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.name, item.cost, item.stock, item.requires_streak, item.is_active) == ("新名字", 90, None, 7, False)


def test_fulfil_and_cancel_from_the_shop(community, owner, alice):
    grant(alice, 100)
    item = reward_save(community=community, name="贴纸", cost=40, stock=3)
    first = reward_redeem(member=alice, item=item)
    second = reward_redeem(member=alice, item=item)
    client = page_client(owner)
    page = client.get(url("shop", community))
    assert all(row.handles for row in page.context["page"])
    assert client.post(url("redemption", community, first.pk), {"action": "fulfil"}).status_code == 302
    assert client.post(url("redemption", community, second.pk), {"action": "cancel"}).status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == RedemptionStatus.FULFILLED and second.status == RedemptionStatus.CANCELLED
    assert points_balance(member=alice) == 60
    again = client.post(url("redemption", community, second.pk), {"action": "cancel"}, follow=True)
    assert "Only a redemption still waiting" in again.content.decode()
    assert points_balance(member=alice) == 60


def test_an_admin_handles_redemptions_of_their_groups_only(community, subtree_admin, alice, bob):
    grant(alice, 50)
    grant(bob, 50)
    item = reward_save(community=community, name="贴纸", cost=10)
    mine = reward_redeem(member=alice, item=item)
    theirs = reward_redeem(member=bob, item=item)
    client = page_client(subtree_admin)
    assert [row.pk for row in client.get(url("shop", community)).context["page"]] == [mine.pk]
    assert client.post(url("redemption", community, theirs.pk), {"action": "fulfil"}).status_code == 404
    assert client.post(url("redemption", community, mine.pk), {"action": "fulfil"}).status_code == 302
    assert client.post(url("shop", community), {"name": "x", "cost": "1"}).status_code == 403


# --- Rules and levels ----------------------------------------------------------------------------


def _level_post(rows, initial=0):
    data = {"form": "levels", "levels-TOTAL_FORMS": str(len(rows)), "levels-INITIAL_FORMS": str(initial)}
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"levels-{index}-{key}"] = value
    return data


def test_rules_and_levels_are_edited_on_one_page(community, owner):
    client = page_client(owner)
    rules = {"check_in": "8", "post": "10", "featured_post": "40", "invite_accepted": "20", "event_organised": "60",
             "streak_days": "5", "streak_bonus": "25"}  # fmt: skip
    assert client.post(url("rules", community), {"form": "rules", **rules}).status_code == 302
    saved = points_rules(community=community)
    assert (saved.check_in, saved.streak_days, saved.featured_post) == (8, 5, 40)

    levels = levels_for(community=community)
    rows = [{"id": str(level.pk), "name": level.name, "threshold": str(level.threshold)} for level in levels]
    rows[4]["DELETE"] = "on"
    rows.append({"id": "", "name": "学霸", "threshold": "2000"})
    rows.append({"id": "", "name": "", "threshold": ""})  # the empty extra row
    response = client.post(url("rules", community), _level_post(rows, initial=5))
    assert response.status_code == 302, response.context["level_forms"].non_form_errors()
    assert list(Level.objects.filter(community=community).values_list("threshold", flat=True)) == [
        0, 100, 300, 1000, 2000
    ]  # fmt: skip

    rows = [{"id": "", "name": "起步", "threshold": "10"}]
    response = client.post(url("rules", community), _level_post(rows))
    assert response.status_code == 400 and "starts at 0" in response.content.decode()


def test_only_managers_change_the_rules(community, subtree_admin):
    client = page_client(subtree_admin)
    assert client.get(url("rules", community)).status_code == 200
    assert client.post(url("rules", community), {"form": "rules", "check_in": "100"}).status_code == 403


# --- Organised events ----------------------------------------------------------------------------


def test_recording_an_event_pays_the_organiser(community, subtree_admin, alice, photo):
    client = page_client(subtree_admin)
    held = (timezone.localdate() - timedelta(days=1)).isoformat()
    data = {"group": photo.pk, "organiser": "小爱", "title": "周末外拍", "held_on": held, "attendees": "15"}
    response = client.post(url("events", community), data)
    assert response.status_code == 302, response.content
    event = OrganisedEvent.objects.get()
    assert event.organiser == alice and event.recorded_by == subtree_admin
    assert points_balance(member=alice) == 50
    unknown = client.post(url("events", community), {**data, "organiser": "不存在"})
    assert unknown.status_code == 400 and "organiser" in unknown.context["form"].errors
    assert client.post(url("events", community), {**data, "group": community.hub_id}).status_code == 400


def test_recording_events_needs_manage_members(community, plain_member, sibling_admin, photo, alice):
    # The sibling admin may record for their own group only; 摄影群 is not a choice for them.
    client = page_client(sibling_admin)
    held = timezone.localdate().isoformat()
    response = client.post(
        url("events", community), {"group": photo.pk, "organiser": str(alice.pk), "title": "x", "held_on": held}
    )
    assert response.status_code == 400 and not OrganisedEvent.objects.exists()


# --- The member's own page ------------------------------------------------------------------------


@pytest.fixture
def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


def _csrf(client: Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.cookies["csrftoken"].value if "csrftoken" in response.cookies else client.cookies["csrftoken"].value


def test_the_member_checks_in_on_their_page_once_a_day(alice, csrf_client):
    path = reverse("engagement:me", args=[member_pass(member=alice).token])
    token = _csrf(csrf_client, path)
    assert csrf_client.post(path, {"action": "check_in"}).status_code == 403, "no CSRF token, no check-in"
    response = csrf_client.post(path, {"action": "check_in", "csrfmiddlewaretoken": token}, follow=True)
    assert response.status_code == 200
    assert "Checked in: +5 points" in response.content.decode()
    assert response.context["checked_in_today"] and response.context["standing"].balance == 5
    again = csrf_client.post(path, {"action": "check_in", "csrfmiddlewaretoken": token}, follow=True)
    assert "already checked in today" in again.content.decode()
    assert CheckIn.objects.filter(member=alice).count() == 1 and points_balance(member=alice) == 5
    assert CheckIn.objects.get(member=alice).source == "page"


def test_the_member_redeems_on_their_page_and_refusals_are_messages(community, alice, csrf_client):
    grant(alice, 50)
    cheap = reward_save(community=community, name="贴纸", cost=30)
    dear = reward_save(community=community, name="《作文模板大全》", cost=300)
    locked = reward_save(community=community, name="连续签到礼", cost=1, requires_streak=7)
    path = reverse("engagement:me", args=[member_pass(member=alice).token])
    token = _csrf(csrf_client, path)
    page = csrf_client.get(path)
    locks = {row["item"].pk: row["lock"] for row in page.context["items"]}
    assert locks[cheap.pk] is None and locks[locked.pk].reason == "streak"

    response = csrf_client.post(path, {"action": "redeem", "item": cheap.pk, "csrfmiddlewaretoken": token}, follow=True)
    assert "You redeemed" in response.content.decode()
    response = csrf_client.post(path, {"action": "redeem", "item": dear.pk, "csrfmiddlewaretoken": token}, follow=True)
    assert response.status_code == 200 and "280 missing" in response.content.decode()
    for bad in ("nope", "99999999999999999999999", str(RewardItem.objects.latest("pk").pk + 100)):
        response = csrf_client.post(path, {"action": "redeem", "item": bad, "csrfmiddlewaretoken": token}, follow=True)
        assert response.status_code == 200 and "No such reward" in response.content.decode()
    assert Redemption.objects.filter(member=alice).count() == 1 and points_balance(member=alice) == 20


def test_the_member_page_shows_the_ledger_and_level(alice, community):
    grant(alice, 150)
    page = Client().get(reverse("engagement:me", args=[member_pass(member=alice).token]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Regular" in html and "<progress" in html and "150" in html
    assert page.context["lines"][0].balance == 150


def test_an_unknown_link_is_a_404(db):
    assert Client().get(reverse("engagement:me", args=["not-a-token"])).status_code == 404


def test_posting_on_the_page_is_rate_limited(alice):
    client = Client()
    path = reverse("engagement:me", args=[member_pass(member=alice).token])
    for _ in range(30):
        client.post(path, {"action": "check_in"})
    response = client.post(path, {"action": "check_in"})
    assert response.status_code == 429 and "Too many tries" in response.content.decode()
    assert PointsEntry.objects.filter(member=alice).count() == 1
