"""Recall pages in the dashboard, and the member's side: inbox, tracked link, exit survey."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.models import EventKind
from members.models import Role
from members.services import people
from recall.models import (
    AttemptStatus,
    CallOutcome,
    Channel,
    CouponPool,
    ExitReason,
    ExitSurvey,
    Notice,
    OptOut,
    RecallAttempt,
    RecallPolicy,
    RecallStage,
)
from recall.public import inbox_token
from recall.services import dispatch, exits, policies
from recall.services.engine import recall_run
from tests.factories import staff_user
from tests.personas import page_client
from tests.recall.conftest import act, at_day, silent_member

pytestmark = pytest.mark.django_db


def beat(community, now):
    recall_run(community=community, now=now)
    dispatch.attempts_dispatch(community_id=community.pk, now=now)


@pytest.fixture
def reached(community, design, coders, policy, quiet_since):
    """Two members of 设计 and one of 程序员 through all three stages (so three phone tasks)."""
    pool = policy.stages.get(position=1).coupon_pool
    policies.coupons_add(pool=pool, text="A1 A2 A3")
    members = [
        silent_member(design, quiet_since, name="林嘉琪", phone="13812345678", platform_id="wx-lin"),
        silent_member(design, quiet_since, name="周子豪", phone="13900001111"),
        silent_member(coders, quiet_since, name="陈思远", phone="13700002222"),
    ]
    for day in (30, 37, 60):
        beat(community, at_day(quiet_since, day))
    return members


@pytest.fixture
def core_admin(community):
    return staff_user("core", group=community.hub, role=Role.CORE_ADMIN)


def test_the_overview_shows_the_funnel_and_exports_it(community, owner, reached):
    act(reached[0], reached[0].memberships.get().group, timezone.now() - timedelta(days=1))
    client = page_client(owner)
    response = client.get(reverse("recall:overview", args=[community.slug]) + "?period=365")
    assert response.status_code == 200
    funnel = response.context["funnel"]
    assert funnel["total"]["sent"] == 3 + 1 + 3  # notices, the one private message that had an account, calls
    assert funnel["total"]["failed"] == 2
    assert {row["channel"] for row in funnel["rows"]} == {Channel.IN_APP, Channel.PLATFORM, Channel.PHONE}
    assert 'data-chart="bars"' in response.content.decode()
    csv = client.get(reverse("recall:overview", args=[community.slug]) + "?period=365&export=csv")
    assert csv.status_code == 200 and "What you missed" in csv.content.decode("utf-8-sig")


def test_outsiders_get_404_and_admins_see_only_their_subtree(community, reached, outsider, sibling_admin):
    for name in ("overview", "calls", "attempts", "exits", "policies"):
        assert page_client(outsider).get(reverse(f"recall:{name}", args=[community.slug])).status_code == 404
    response = page_client(sibling_admin).get(reverse("recall:attempts", args=[community.slug]))
    names = {attempt.member.display_name for attempt in response.context["page"]}
    assert names == {"陈思远"}


def test_only_those_who_run_recall_change_policies(community, policy, subtree_admin, core_admin):
    url = reverse("recall:policy", args=[community.slug, policy.pk])
    data = {"form": "policy", "policy-name": "改名", "policy-monthly_cap": 2, "policy-recovery_days": 14}
    data["policy-point_value"] = "0.01"
    assert page_client(subtree_admin).post(url, data).status_code == 403
    response = page_client(core_admin).post(url, data)
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.name == "改名" and policy.monthly_cap == 2 and policy.quiet_start is None


def test_a_bad_stage_gets_form_errors_and_nothing_is_saved(community, policy, owner):
    url = reverse("recall:policy", args=[community.slug, policy.pk])
    data = {
        "form": "stage",
        "stage-name": "第四步",
        "stage-days_silent": 90,
        "stage-channel": Channel.PLATFORM,
        "stage-template": "你好 {nmae}",
        "stage-wait_days": 7,
    }
    response = page_client(owner).post(url, data)
    assert response.status_code == 200
    assert "{nmae}" in str(response.context["stage_form"].errors["template"])
    assert policy.stages.count() == 3
    data["stage-template"] = "你好 {name}"
    assert page_client(owner).post(url, data).status_code == 302
    assert policy.stages.count() == 4


def test_the_default_policy_and_a_coupon_pool_from_the_pages(community, owner):
    client = page_client(owner)
    url = reverse("recall:policies", args=[community.slug])
    assert client.post(url, {"form": "default"}).status_code == 302
    assert RecallStage.objects.filter(policy__community=community).count() == 3
    assert client.post(url, {"form": "pool", "pool-name": "新人礼", "pool-value": "5"}).status_code == 302
    pool = CouponPool.objects.get(community=community, name="新人礼")
    response = client.post(reverse("recall:pool", args=[community.slug, pool.pk]), {"codes": "X1\nX2, X2"})
    assert response.status_code == 302 and pool.coupons.count() == 2
    bad = client.post(url, {"form": "pool", "pool-name": "新人礼", "pool-value": "5"})
    assert bad.status_code == 200 and bad.context["pool_form"].errors


def test_the_call_list_masks_phones_for_everyone_but_owners(community, reached, owner, core_admin):
    url = reverse("recall:calls", args=[community.slug])
    owners_view = page_client(owner).get(url).content.decode()
    admins_view = page_client(core_admin).get(url).content.decode()
    assert "13812345678" in owners_view
    assert "13812345678" not in admins_view and "138****5678" in admins_view
    assert "free month" in admins_view


def test_recording_calls_keeps_no_answers_on_the_list(community, reached, core_admin):
    client = page_client(core_admin)
    tasks = {task.member.display_name: task for task in RecallAttempt.objects.filter(channel=Channel.PHONE)}
    url = lambda task: reverse("recall:call", args=[community.slug, task.pk])  # noqa: E731
    prefix = lambda task: f"call{task.pk}-"  # noqa: E731
    lin, zhou, chen = tasks["林嘉琪"], tasks["周子豪"], tasks["陈思远"]

    response = client.post(url(lin), {prefix(lin) + "outcome": CallOutcome.REACHED, prefix(lin) + "note": "下周回来"},
                           HTTP_HX_REQUEST="true")  # fmt: skip
    assert response.status_code == 200 and 'class="done"' in response.content.decode()
    client.post(url(zhou), {prefix(zhou) + "outcome": CallOutcome.NO_ANSWER})
    client.post(url(chen), {prefix(chen) + "outcome": CallOutcome.REFUSED, prefix(chen) + "opt_out": "on"})
    bad = client.post(url(zhou), {prefix(zhou) + "outcome": "maybe"})
    assert bad.status_code == 400

    lin.refresh_from_db()
    assert lin.call_outcome == CallOutcome.REACHED and lin.responded_at and lin.called_by.username == "core"
    chen.refresh_from_db()
    assert chen.call_outcome == CallOutcome.REFUSED and chen.responded_at is None and chen.delivered_at
    assert OptOut.objects.filter(member__display_name="陈思远").exists()
    listed = [
        task.member.display_name for task in client.get(reverse("recall:calls", args=[community.slug])).context["tasks"]
    ]
    assert listed == ["周子豪"]
    # A recorded call is off the list: recording it again is a 404.
    assert client.post(url(lin), {prefix(lin) + "outcome": CallOutcome.REACHED}).status_code == 404


def test_the_inbox_counts_unread_and_records_what_the_member_does(community, design, policy, quiet_since, client):
    member = silent_member(design, quiet_since)
    beat(community, at_day(quiet_since, 30))
    attempt = RecallAttempt.objects.get(member=member)
    assert attempt.token in attempt.body, "the message links to the member's inbox through its own token"

    opened = client.get(reverse("recall_public:open", args=[attempt.token]))
    assert opened.status_code == 302
    attempt.refresh_from_db()
    assert attempt.opened_at is not None and attempt.responded_at is None

    inbox = client.get(opened.url)
    assert inbox.status_code == 200 and inbox.context["unread"] == 1
    assert client.get(opened.url).context["unread"] == 0, "shown is read"
    assert Notice.objects.get(member=member).read_at is not None

    client.post(opened.url, {"action": "back", "attempt": attempt.pk})
    attempt.refresh_from_db()
    assert attempt.responded_at is not None
    client.post(opened.url, {"action": "opt_out"})
    assert OptOut.objects.filter(member=member).exists()
    client.post(opened.url, {"action": "opt_in"})
    assert not OptOut.objects.filter(member=member).exists()

    assert client.get(reverse("recall_public:inbox", args=["forged"])).status_code == 404
    assert client.get(reverse("recall_public:open", args=["forged"])).status_code == 404
    stranger = silent_member(design, quiet_since)
    other_inbox = reverse("recall_public:inbox", args=[inbox_token(stranger)])
    assert client.post(other_inbox, {"action": "back", "attempt": attempt.pk}).status_code == 404


def test_the_exit_survey_page_checks_and_keeps_answers(community, design, policy, quiet_since, client, owner):
    member = silent_member(design, quiet_since)
    people.membership_end(membership=member.memberships.get())
    recall_run(community=community, now=timezone.now() + timedelta(minutes=1))
    survey = ExitSurvey.objects.get(member=member)
    url = reverse("recall_public:exit", args=[survey.token])
    assert client.get(url).status_code == 200
    response = client.post(url, {"reasons": [ExitReason.OTHER]})
    assert response.status_code == 400 and response.context["form"].errors["other_text"]
    response = client.post(
        url, {"reasons": [ExitReason.FEW_BENEFITS, ExitReason.OTHER], "other_text": "<b>换工作了</b>"}
    )
    assert response.status_code == 200
    survey.refresh_from_db()
    assert survey.reasons == [ExitReason.FEW_BENEFITS, ExitReason.OTHER] and survey.answered_at

    report = page_client(owner).get(reverse("recall:exits", args=[community.slug]))
    html = report.content.decode()
    assert report.context["report"]["answered"] == 1
    assert "&lt;b&gt;换工作了&lt;/b&gt;" in html and "<b>换工作了</b>" not in html
    xlsx = page_client(owner).get(reverse("recall:exits", args=[community.slug]) + "?export=xlsx")
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxmlformats")


def test_a_wrong_survey_token_is_404(client):
    assert client.get(reverse("recall_public:exit", args=["nope"])).status_code == 404


def test_exit_answers_are_validated_by_the_service(community, design, policy, quiet_since):
    member = silent_member(design, quiet_since)
    people.membership_end(membership=member.memberships.get())
    survey = exits.survey_send(membership=member.memberships.get())
    from core.errors import ApplicationError

    with pytest.raises(ApplicationError):
        exits.survey_answer(survey=survey, reasons=[])
    with pytest.raises(ApplicationError):
        exits.survey_answer(survey=survey, reasons=["bored"])
    assert exits.survey_send(membership=member.memberships.get()) is None, "one survey per membership"


def test_the_attempts_list_filters_and_exports(community, reached, owner):
    client = page_client(owner)
    url = reverse("recall:attempts", args=[community.slug])
    failed = client.get(url + "?status=failed")
    assert {a.status for a in failed.context["page"]} == {AttemptStatus.FAILED}
    phone = client.get(url + "?channel=phone")
    assert phone.context["page"].paginator.count == 3
    csv = client.get(url + "?channel=phone&export=csv").content.decode("utf-8-sig")
    assert csv.count("\n") == 4


def test_the_sidebar_links_to_recall(community, owner):
    html = page_client(owner).get(reverse("recall:overview", args=[community.slug])).content.decode()
    assert reverse("recall:overview", args=[community.slug]) in html and "soon" not in html


def test_policies_pages_are_read_only_for_viewers(community, policy, subtree_admin):
    client = page_client(subtree_admin)
    assert client.get(reverse("recall:policies", args=[community.slug])).status_code == 200
    assert client.post(reverse("recall:policies", args=[community.slug]), {"form": "default"}).status_code == 403
    stage = policy.stages.first()
    assert client.get(reverse("recall:stage", args=[community.slug, stage.pk])).status_code == 403
    assert RecallPolicy.objects.filter(community=community).count() == 1


def test_run_now_queues_the_engine(community, policy, owner, django_capture_on_commit_callbacks, eager_tasks):
    with django_capture_on_commit_callbacks(execute=True):
        response = page_client(owner).post(reverse("recall:run", args=[community.slug]))
    assert response.status_code == 302


def test_checking_in_is_engaged_activity(community, design, policy, quiet_since):
    member = silent_member(design, quiet_since)
    act(member, design, at_day(quiet_since, 20), kind=EventKind.CHECK_IN)
    beat(community, at_day(quiet_since, 30))
    assert not RecallAttempt.objects.filter(member=member).exists(), "silent for 10 days only"


def test_the_funnel_and_ab_tables_take_a_fixed_number_of_queries(
    community, reached, owner, django_assert_max_num_queries
):
    from recall import selectors
    from recall.models import Variant

    # The arms come from a hash of member and stage ids, which depend on what ran before: give
    # the stage with a variant B one attempt in each arm, so there is always a test to count.
    split = RecallAttempt.objects.filter(community=community).exclude(stage__template_b="").order_by("pk")
    RecallAttempt.objects.filter(pk__in=list(split.values_list("pk", flat=True)[:1])).update(variant=Variant.A)
    RecallAttempt.objects.filter(pk__in=list(split.values_list("pk", flat=True)[1:2])).update(variant=Variant.B)
    attempts = selectors.attempts_for(owner, community)
    with django_assert_max_num_queries(3):  # the total, the groups, their stages
        data = selectors.funnel(attempts)
    assert len(data["rows"]) == 3 and sum(row["sent"] for row in data["rows"]) == data["total"]["sent"]
    with django_assert_max_num_queries(2):  # the arms, their stages (the stage list is a subquery)
        tests = selectors.ab_tests(attempts)
    [test] = tests
    assert test["a"]["sent"] + test["b"]["sent"] == 3
