"""What members receive and see speaks their community's language and shows its time zone,
whoever or whatever triggered it: an English-speaking admin, a bot's API call, a beat task
running under the server's English default. A member's own language, where known, wins; on
the pages members open, so does a language they picked with the page's switch."""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.utils import timezone, translation

from content.models import Digest, PostKind, ReviewDecision
from content.services import posts
from content.tasks import draft_digests
from members import services as people
from members.models import Application
from members.services.funnel import welcome_text
from outbox.models import MessageKind, OutboundMessage
from recall.services import exits, policies
from tests.factories import CommunityFactory, GroupFactory, MemberFactory, UserFactory
from tests.personas import api_client, page_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def chinese(db):
    community = CommunityFactory(name="中文社群", slug="zh-community", language="zh-hans")
    GroupFactory(parent=community.hub, name="摄影小群")
    return community


@pytest.fixture
def english(db):
    community = CommunityFactory(name="English club", slug="en-community", language="en", time_zone="Europe/London")
    GroupFactory(parent=community.hub, name="Photography")
    return community


def _group(community):
    return community.groups.exclude(pk=community.hub_id).get()


def _admin(community, username):
    return UserFactory(username=username, operator_of=[community])


def _apply(community, name="林嘉琪", external_id="wx-1"):
    return people.application_submit(
        group=_group(community), display_name=name, platform="wecom", external_user_id=external_id
    )


# --- Messages ---------------------------------------------------------------------------------


def test_an_english_speaking_admin_approves_and_the_applicant_is_invited_in_chinese(chinese):
    application = _apply(chinese)
    api = api_client(_admin(chinese, "ops"))

    response = api.post(f"/api/v1/applications/{application.pk}/approve/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200, response.content
    message = OutboundMessage.objects.get(kind=MessageKind.INVITATION, recipient_external_id="wx-1")
    assert message.body.startswith("你加入“摄影小群”的申请已通过。"), message.body
    assert "Your application" not in message.body
    # The admin's own answer stays in the admin's language.
    assert translation.get_language() == settings.LANGUAGE_CODE


def test_a_member_with_a_language_of_their_own_gets_it_in_a_chinese_community(chinese):
    group = _group(chinese)
    member = MemberFactory(community=chinese, display_name="Alex", language="en")
    people.handle_add(member=member, platform=group.platform, external_id="alex")
    with translation.override("zh-hans"):  # the admin reads Chinese
        people.invitation_create(group=group, member=member)

    body = OutboundMessage.objects.get(kind=MessageKind.INVITATION).body
    assert body.startswith("You are invited to join “摄影小群”"), body


def test_the_welcome_speaks_the_community_language_by_default_and_keeps_a_group_s_own_text(chinese, english):
    for community, expected in ((chinese, "欢迎 林嘉琪 加入「摄影小群」"), (english, "Welcome Lin to “Photography”")):
        application = _apply(community, name="林嘉琪" if community is chinese else "Lin")
        with translation.override("en" if community is chinese else "zh-hans"):  # the other language
            invitation = people.application_approve(application=application, by=None)
            joined = people.invitation_accept(token=invitation.token)
        assert joined.welcome.body.startswith(expected), joined.welcome.body
    group = _group(chinese)
    group.welcome_template = "Hi {name}!"
    group.save()
    assert welcome_text(group, "Sam") == "Hi Sam!"


def test_the_exit_survey_and_the_default_recall_policy_are_written_for_the_members(chinese):
    group = _group(chinese)
    member = MemberFactory(community=chinese, display_name="王芳")
    people.handle_add(member=member, platform=group.platform, external_id="wf")
    membership = people.membership_add(member=member, group=group, source="manual")
    people.membership_end(membership=membership, reason="left")

    with translation.override("en"):
        survey = exits.survey_send(membership=membership)
        policy = policies.policy_default(community=chinese)

    assert survey.message.body.startswith("王芳，很遗憾你离开了。"), survey.message.body
    first = policy.stages.order_by("position").first()
    assert first.template.startswith("{name}，你好"), first.template
    assert policy.name == "沉默成员"


def test_a_beat_task_under_the_english_default_drafts_a_chinese_digest_for_a_chinese_community(chinese, english):
    """The weekly digest task, as beat runs it (English active, no request), for both kinds."""
    for community in (chinese, english):
        group = _group(community)
        author = MemberFactory(community=community, display_name="作者")
        people.membership_add(member=author, group=group, source="manual")
        post = posts.post_submit(group=group, author=author, kind=PostKind.KNOWLEDGE, title="构图", body="正文")
        posts.post_first_review(post=post, by=None, approve=True)
        posts.post_final_review(post=post, by=None, decision=ReviewDecision.FEATURED)
        type(post).objects.filter(pk=post.pk).update(published_at=timezone.now() - timedelta(days=7))
    translation.activate("en")

    assert draft_digests.apply().get() == 2

    zh = Digest.objects.get(community=chinese)
    en = Digest.objects.get(community=english)
    assert zh.title.startswith("精华汇总") and zh.body.startswith("本周各小群精华："), (zh.title, zh.body)
    assert en.title.startswith("Digest") and en.body.startswith("This week's best from our groups:")


def test_a_hub_announcement_mirrored_into_new_groups_reads_in_the_community_language(chinese):
    with translation.override("en"):  # staff posts go out without review
        posts.post_submit(
            group=chinese.hub, author=None, kind=PostKind.ANNOUNCEMENT, title="通知", body="周末活动", source="staff"
        )
    mirrored = OutboundMessage.objects.filter(kind=MessageKind.ANNOUNCEMENT).exclude(group=chinese.hub)
    assert mirrored.exists()
    assert all(message.body.startswith("【主群公告】") for message in mirrored), [m.body for m in mirrored]


# --- Pages members open -------------------------------------------------------------------------


def test_the_application_page_speaks_chinese_and_shows_shanghai_time_to_an_english_browser(chinese, client):
    application = _apply(chinese)
    Application.objects.filter(pk=application.pk).update(submitted_at=datetime(2026, 12, 1, 23, 30, tzinfo=UTC))

    page = client.get(f"/applications/{application.status_token}/", HTTP_ACCEPT_LANGUAGE="en")

    html = page.content.decode()
    assert page.status_code == 200 and page["Content-Language"] == "zh-hans"
    assert '<html lang="zh-hans">' in html
    assert "2026-12-02 07:30" in html  # 23:30 UTC is 07:30 the next morning in Shanghai
    assert "2026-12-01 23:30" not in html


def test_a_language_the_visitor_picked_on_the_page_wins(chinese, client):
    application = _apply(chinese)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    page = client.get(f"/applications/{application.status_token}/")

    assert page["Content-Language"] == "en" and '<html lang="en">' in page.content.decode()


def test_the_invitation_page_and_its_form_errors_speak_the_community_language(chinese, client):
    application = _apply(chinese)
    invitation = people.application_approve(application=application, by=None)
    people.invitation_revoke(invitation=invitation)

    page = client.post(f"/invite/{invitation.token}/", HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 400 and page["Content-Language"] == "zh-hans"
    assert "This invitation" not in page.content.decode()


def test_an_unknown_link_still_answers_404_in_the_visitor_s_language(client, db):
    page = client.get("/applications/nothing-here/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 404


# --- Setting it ---------------------------------------------------------------------------------


def test_owners_set_the_community_language_through_the_api_and_bad_values_are_refused(chinese):
    api = api_client(_admin(chinese, "owner"))
    url = f"/api/v1/communities/{chinese.pk}/"

    refused = api.patch(url, {"language": "fr"}, format="json")
    assert refused.status_code == 400 and "language" in refused.json()["extra"]["fields"]
    assert api.get(url).json()["language"] == "zh-hans"  # nothing changed

    assert api.patch(url, {"language": "en"}, format="json").json()["language"] == "en"
    created = api.post("/api/v1/communities/", {"name": "新社群", "language": "zh-hans"}, format="json")
    assert created.status_code == 201 and created.json()["language"] == "zh-hans"


def test_a_member_s_own_language_is_set_through_the_api_and_checked(chinese):
    api = api_client(_admin(chinese, "owner"))
    member = MemberFactory(community=chinese, display_name="Alex")

    assert api.patch(f"/api/v1/members/{member.pk}/", {"language": "xx"}, format="json").status_code == 400
    answer = api.patch(f"/api/v1/members/{member.pk}/", {"language": "en"}, format="json")
    assert answer.status_code == 200 and answer.json()["language"] == "en"
    assert api.patch(f"/api/v1/members/{member.pk}/", {"language": ""}, format="json").json()["language"] == ""


def test_a_new_community_takes_its_creator_s_language_on_the_page(db):
    user = UserFactory(username="creator")
    client = page_client(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    form = client.get("/communities/new/").context["form"]
    assert form.fields["language"].initial == "zh-hans"


def test_the_default_levels_members_see_are_named_in_the_community_language(chinese, english):
    from engagement.services.levels import levels_for

    translation.activate("en")
    assert levels_for(community=chinese)[0].name == "新手"
    translation.activate("zh-hans")
    assert levels_for(community=english)[0].name == "Newcomer"
