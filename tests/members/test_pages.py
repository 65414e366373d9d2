import csv
import io

import pytest
from django.urls import reverse

from members import services
from members.models import (
    Application,
    ApplicationStatus,
    Invitation,
    KnockoutRule,
    LiveCode,
    Membership,
    Question,
    Role,
)
from members.services.questionnaire import questionnaire_add_article_questions
from outbox.models import OutboundMessage
from subgroups.models import Group, Platform
from tests.factories import GroupFactory, MemberFactory
from tests.personas import page_client

pytestmark = pytest.mark.django_db


def url(name: str, *args) -> str:
    return reverse(f"members:{name}", args=args)


def apply_data(group, **overrides):
    data = {
        "display_name": "林嘉琪",
        "phone": "13812345678",
        "email": "",
        "city": "北京",
        "platform": "",
        "external_user_id": "",
    }
    for question in group.questions.all():
        data[f"q_{question.pk}"] = {
            "您最希望深入交流哪方面内容？": ["设计"],
            "您更倾向多少人的交流规模？": "50人以内",
            "您可接受的群消息频率是？": "每天几条",
            "您是否愿意担任小群管理员？": "不愿意",
        }.get(question.text, "")
    return {**data, **overrides}


class TestApplyPage:
    def test_the_form_asks_the_groups_questions(self, client, community, design):
        questionnaire_add_article_questions(group=design)
        html = client.get(url("apply", community.slug, design.slug)).content.decode()
        assert "您最希望深入交流哪方面内容？" in html and 'name="website"' in html

    def test_applying_leads_to_the_status_page(self, client, community, design):
        questionnaire_add_article_questions(group=design)
        response = client.post(url("apply", community.slug, design.slug), apply_data(design))
        application = Application.objects.get()
        assert response.status_code == 302 and response["Location"] == url(
            "application_status", application.status_token
        )
        assert application.answers[0]["answer"] == ["设计"]
        page = client.get(response["Location"]).content.decode()
        assert "Pending" in page and "Withdraw my application" in page

    def test_errors_show_next_to_their_question(self, client, community, design):
        questions = questionnaire_add_article_questions(group=design)
        data = apply_data(design)
        data.pop(f"q_{questions[1].pk}")
        response = client.post(url("apply", community.slug, design.slug), data)
        assert response.status_code == 400
        html = response.content.decode()
        block = html.split(f'data-question="q_{questions[1].pk}"')[1].split('class="question"')[0]
        assert "This question needs an answer." in block
        assert not Application.objects.exists()

    def test_the_honeypot_stores_nothing(self, client, community, design):
        response = client.post(url("apply", community.slug, design.slug), apply_data(design, website="http://spam"))
        assert response.status_code == 200 and b"Application received" in response.content
        assert not Application.objects.exists()

    def test_a_flood_from_one_address_gets_a_429_page(self, client, community, design, settings):
        settings.CANOPY_APPLY_LIMIT_PER_IP = 1
        client.post(url("apply", community.slug, design.slug), apply_data(design, phone="13000000001"))
        response = client.post(url("apply", community.slug, design.slug), apply_data(design, phone="13000000002"))
        assert response.status_code == 429 and b"Too many applications from your network" in response.content

    def test_a_duplicate_is_shown_on_the_form(self, client, community, design):
        client.post(url("apply", community.slug, design.slug), apply_data(design))
        response = client.post(url("apply", community.slug, design.slug), apply_data(design))
        assert response.status_code == 400 and b"already waiting" in response.content

    def test_hubs_and_unknown_groups_have_no_form(self, client, community):
        assert client.get(url("apply", community.slug, community.hub.slug)).status_code == 404
        assert client.get(url("apply", community.slug, "nope")).status_code == 404

    def test_withdrawing(self, client, design):
        application = services.application_submit(group=design, display_name="甲", phone="13000000001")
        client.post(url("application_status", application.status_token))
        application.refresh_from_db()
        assert application.status == ApplicationStatus.WITHDRAWN


class TestInvitationPage:
    def test_opening_the_link_does_not_use_it(self, client, design, owner):
        invitation = services.application_approve(
            application=services.application_submit(group=design, display_name="甲", phone="13000000001"), by=owner
        )
        page = client.get(url("invitation", invitation.token))
        assert page.status_code == 200 and b"Join the group" in page.content
        assert not Membership.objects.filter(group=design).exists()

    def test_joining_shows_the_welcome_message(self, client, design, owner):
        invitation = services.application_approve(
            application=services.application_submit(group=design, display_name="甲", phone="13000000001"), by=owner
        )
        response = client.post(url("invitation", invitation.token))
        html = response.content.decode()
        assert (
            response.status_code == 200
            and 'data-testid="welcome"' in html
            and "Welcome 甲 to “设计美学交流群”!" in html
        )
        assert Membership.objects.filter(group=design, member__display_name="甲").exists()
        again = client.post(url("invitation", invitation.token))
        assert again.status_code == 400 and b"already been used" in again.content

    def test_an_unknown_token_is_404(self, client, db):
        assert client.get(url("invitation", "nope")).status_code == 404


class TestLiveCodePages:
    def test_a_scan_counts_and_a_join_seats_the_newcomer(self, client, community, design):
        pool = GroupFactory(parent=design, name="互联网从业者交流群-摄影小群01", platform=Platform.QQ)
        code = services.livecode_create(
            community=community, name="摄影活码", parent=design, attribute="摄影", groups=[pool]
        )
        assert client.get(url("livecode_public", code.slug)).status_code == 200
        response = client.post(url("livecode_public", code.slug), {"display_name": "新人"})
        assert response.status_code == 200 and "互联网从业者交流群-摄影小群01" in response.content.decode()
        assert LiveCode.objects.get(pk=code.pk).scan_count == 1
        assert Membership.objects.get(group=pool).live_code == code

    def test_the_qr_code_is_an_svg_of_the_public_link(self, client, community, design):
        code = services.livecode_create(community=community, name="活码", parent=design, attribute="摄影")
        response = client.get(url("livecode_qr", code.slug))
        assert response["Content-Type"] == "image/svg+xml"
        assert response.content.startswith(b"<svg") and b'xmlns="http://www.w3.org/2000/svg"' in response.content

    def test_operators_create_codes_and_see_their_statistics(self, community, design, owner):
        GroupFactory(parent=design, name="互联网从业者交流群-摄影小群01")
        GroupFactory(parent=design, name="互联网从业者交流群-摄影小群02")
        GroupFactory(parent=design, name="摄影爱好者")  # not named by the convention
        client = page_client(owner)
        response = client.post(
            url("livecodes", community.slug),
            {"name": "摄影小群活码", "parent": design.pk, "attribute": "摄影", "kind": "interest", "max_groups": 5},
        )
        code = LiveCode.objects.get()
        assert response["Location"] == url("livecode", community.slug, code.pk)
        assert list(code.pool.values_list("group__name", flat=True)) == [
            "互联网从业者交流群-摄影小群01",
            "互联网从业者交流群-摄影小群02",
        ]
        page = client.get(response["Location"]).content.decode()
        assert "qr.svg" in page and 'data-testid="scans"' in page


class TestQueue:
    def test_the_queue_lists_the_reviewers_groups_oldest_first(self, design, photo, coders, subtree_admin, community):
        older = services.application_submit(group=photo, display_name="先来", phone="13000000001")
        newer = services.application_submit(group=design, display_name="后到", phone="13000000002")
        services.application_submit(group=coders, display_name="别组", phone="13000000003")
        html = page_client(subtree_admin).get(url("queue", community.slug)).content.decode()
        assert html.index("先来") < html.index("后到") and "别组" not in html
        assert older and newer

    def test_filters(self, design, photo, subtree_admin, community, owner):
        application = services.application_submit(group=photo, display_name="先来", phone="13000000001")
        services.application_reject(application=application, by=owner, reason="不合适")
        client = page_client(subtree_admin)
        assert "先来" not in client.get(url("queue", community.slug)).content.decode()
        assert "先来" in client.get(url("queue", community.slug), {"status": "rejected"}).content.decode()
        assert "先来" not in client.get(url("queue", community.slug), {"status": "", "age": "older"}).content.decode()

    def test_approving_with_htmx_replaces_the_row(self, design, subtree_admin, community):
        application = services.application_submit(group=design, display_name="甲", phone="13000000001")
        response = page_client(subtree_admin).post(
            url("approve", community.slug, application.pk), HTTP_HX_REQUEST="true"
        )
        html = response.content.decode()
        assert response.status_code == 200 and html.lstrip().startswith(f'<tr id="application-{application.pk}"')
        assert "Approved" in html and Invitation.objects.filter(application=application).exists()

    def test_rejecting_needs_a_reason(self, design, subtree_admin, community):
        application = services.application_submit(group=design, display_name="甲", phone="13000000001")
        client = page_client(subtree_admin)
        response = client.post(url("reject", community.slug, application.pk), {"reason": ""}, HTTP_HX_REQUEST="true")
        assert response.status_code == 400 and b"Say why" in response.content
        client.post(url("reject", community.slug, application.pk), {"reason": "群已满"})
        application.refresh_from_db()
        assert (application.status, application.decision_reason) == (ApplicationStatus.REJECTED, "群已满")

    def test_bulk_approval(self, design, subtree_admin, community):
        ids = [services.application_submit(group=design, display_name="x", phone=f"1300000000{n}").pk for n in range(3)]
        page_client(subtree_admin).post(url("bulk_approve", community.slug), {"ids": ids[:2]})
        assert Application.objects.filter(status=ApplicationStatus.APPROVED).count() == 2

    def test_the_detail_shows_answers_history_and_masks_the_phone(self, community, design, subtree_admin, owner):
        questionnaire_add_article_questions(group=design)
        services.application_submit(group=design, **_answers_for(design), phone="13812345678", display_name="甲")
        first = Application.objects.get()
        services.application_reject(application=first, by=owner, reason="再等等")
        second = services.application_submit(
            group=design, **_answers_for(design), phone="13812345678", display_name="甲"
        )
        html = (
            page_client(subtree_admin)
            .get(url("application", community.slug, second.pk), HTTP_HX_REQUEST="true")
            .content.decode()
        )
        assert "设计" in html and "138****5678" in html and "13812345678" not in html
        assert "Rejected" in html  # the earlier application, in the history
        owner_html = page_client(owner).get(url("application", community.slug, second.pk)).content.decode()
        assert "13812345678" in owner_html

    def test_an_application_elsewhere_is_404(self, coders, subtree_admin, community):
        application = services.application_submit(group=coders, display_name="甲", phone="13000000001")
        client = page_client(subtree_admin)
        assert client.get(url("application", community.slug, application.pk)).status_code == 404
        assert client.post(url("approve", community.slug, application.pk)).status_code == 404


def _answers_for(group):
    data = apply_data(group)
    return {"answers": {key: value for key, value in data.items() if key.startswith("q_")}}


class TestMembersPages:
    @pytest.fixture
    def lin(self, community, design):
        member = MemberFactory(
            community=community, display_name="林嘉琪", phone="13812345678", city="北京", tags=["摄影"]
        )
        services.membership_add(member=member, group=design, source="manual")
        return member

    def test_the_list_masks_phones_for_admins(self, community, lin, subtree_admin, owner):
        admin_html = page_client(subtree_admin).get(url("members", community.slug)).content.decode()
        assert "138****5678" in admin_html and "13812345678" not in admin_html
        assert "13812345678" in page_client(owner).get(url("members", community.slug)).content.decode()

    def test_filters(self, community, lin, owner, coders):
        client = page_client(owner)
        assert "林嘉琪" in client.get(url("members", community.slug), {"tag": "摄影", "city": "北京"}).content.decode()
        assert "林嘉琪" not in client.get(url("members", community.slug), {"group": coders.pk}).content.decode()
        assert "林嘉琪" in client.get(url("members", community.slug), {"q": "5678"}).content.decode()
        assert "林嘉琪" not in client.get(url("members", community.slug), {"role": "admin"}).content.decode()

    def test_the_export_is_masked_too_and_safe_in_spreadsheets(self, community, design, lin, subtree_admin):
        evil = MemberFactory(community=community, display_name="=HYPERLINK(1)", phone="13900000000")
        services.membership_add(member=evil, group=design, source="manual")
        content = page_client(subtree_admin).get(url("members_export", community.slug)).content.decode("utf-8-sig")
        rows = {row[0]: row for row in csv.reader(io.StringIO(content))}
        assert rows["林嘉琪"][1] == "138****5678"
        assert "'=HYPERLINK(1)" in rows

    def test_the_profile_shows_memberships_and_history(self, community, lin, owner):
        html = page_client(owner).get(url("member", community.slug, lin.pk)).content.decode()
        assert "设计美学交流群" in html and "Joined 设计美学交流群 as member" in html

    def test_granting_a_role_from_the_profile(self, community, design, lin, subtree_admin):
        client = page_client(subtree_admin)
        response = client.post(url("membership_add", community.slug, lin.pk), {"group": design.pk, "role": "guide"})
        assert response.status_code == 302
        assert Membership.objects.get(member=lin, group=design).role == Role.GUIDE
        refused = client.post(url("membership_add", community.slug, lin.pk), {"group": design.pk, "role": "owner"})
        assert refused.status_code == 403

    def test_removing_from_a_group(self, community, design, lin, subtree_admin):
        membership = lin.memberships.get()
        page_client(subtree_admin).post(url("membership_end", community.slug, membership.pk))
        membership.refresh_from_db()
        assert membership.status == "removed"

    def test_editing_keeps_personal_data_and_standing_for_the_hub(self, community, lin, subtree_admin, owner):
        page_client(subtree_admin).post(
            url("member", community.slug, lin.pk),
            {
                "display_name": "林嘉琪",
                "phone": "1",
                "email": "x@example.org",
                "city": "杭州",
                "purchase_count": 9,
                "annual_member": "on",
            },
        )
        lin.refresh_from_db()
        assert (lin.city, lin.purchase_count, lin.annual_member, lin.phone, lin.email) == (
            "杭州",
            0,
            False,
            "13812345678",
            "",
        )
        page_client(owner).post(
            url("member", community.slug, lin.pk),
            {"display_name": "林嘉琪", "phone": "13900000000", "city": "杭州", "purchase_count": 9},
        )
        lin.refresh_from_db()
        assert (lin.purchase_count, lin.phone) == (9, "13900000000")

    def test_only_owners_search_by_phone(self, community, lin, subtree_admin, owner):
        admin_html = page_client(subtree_admin).get(url("members", community.slug), {"q": "5678"}).content.decode()
        assert "林嘉琪" not in admin_html
        assert "林嘉琪" in page_client(owner).get(url("members", community.slug), {"q": "5678"}).content.decode()

    def test_the_profile_shows_only_the_admins_part_of_the_member(self, community, lin, coders, subtree_admin, owner):
        services.membership_add(member=lin, group=coders, source="manual")
        application = services.application_submit(group=coders, display_name="林嘉琪", phone="13812345678")
        services.application_reject(application=application, by=owner, reason="技术群只收程序员")
        html = page_client(subtree_admin).get(url("member", community.slug, lin.pk)).content.decode()
        assert "设计美学交流群" in html and "程序员技术群" not in html and "只收程序员" not in html
        assert "程序员技术群" in page_client(owner).get(url("member", community.slug, lin.pk)).content.decode()

    def test_an_admin_cannot_demote_an_owner_below_them(self, community, design, photo, subtree_admin, owner):
        boss = MemberFactory(community=community, display_name="群主甲")
        services.role_grant(member=boss, group=photo, role=Role.OWNER)
        response = page_client(subtree_admin).post(
            url("membership_add", community.slug, boss.pk), {"group": photo.pk, "role": Role.MEMBER}
        )
        assert response.status_code == 403
        assert Membership.objects.get(member=boss, group=photo).role == Role.OWNER

    def test_role_changes_are_recorded_with_who_did_them(self, community, design, lin, subtree_admin):
        page_client(subtree_admin).post(
            url("membership_add", community.slug, lin.pk), {"group": design.pk, "role": "guide"}
        )
        html = page_client(subtree_admin).get(url("member", community.slug, lin.pk)).content.decode()
        assert "Member → Guide in 设计美学交流群, by subtree_admin" in html

    def test_the_roles_page_lists_the_team_and_its_shape(self, community, subtree_admin, owner):
        html = page_client(owner).get(url("roles", community.slug)).content.decode()
        assert "subtree_admin" in html and "Team shape" in html


class TestQuestionnaireAndTeamPages:
    def test_building_a_questionnaire(self, community, design, subtree_admin):
        client = page_client(subtree_admin)
        client.post(url("questionnaire", community.slug, design.pk), {"action": "article"})
        assert design.questions.count() == 4
        willing = design.questions.get(text="您是否愿意担任小群管理员？")
        response = client.post(
            url("questionnaire", community.slug, design.pk),
            {"text": "管理经验？", "kind": "text", "show_if_question": willing.pk, "show_if_answers": "愿意"},
        )
        assert response.status_code == 302
        assert Question.objects.get(text="管理经验？").show_if_answers == ["愿意"]
        client.post(
            url("rule_add", community.slug, design.pk, willing.pk),
            {"operator": "any_of", "value": "愿意", "action": "approve", "reason": "愿意当管理员"},
        )
        assert KnockoutRule.objects.get().value == ["愿意"]

    def test_a_bad_rule_shows_its_error_under_its_question(self, community, design, subtree_admin):
        questionnaire_add_article_questions(group=design)
        size = design.questions.get(text="您更倾向多少人的交流规模？")
        response = page_client(subtree_admin).post(
            url("rule_add", community.slug, design.pk, size.pk),
            {"operator": "at_least", "value": "3", "action": "reject", "reason": "x"},
        )
        assert response.status_code == 400 and b"Compare numbers only on a number question." in response.content

    def test_assessing_and_rotating(self, community, design, subtree_admin):
        client = page_client(subtree_admin)
        admin_member = Membership.objects.get(member__user=subtree_admin, group=design).member
        client.post(
            url("assessment_add", community.slug, design.pk),
            {"member": admin_member.pk, "month": "2026-11", "activity_score": 80, "dispute_score": 90},
        )
        assert admin_member.assessments.get().total == 85
        # The rotation ranks real activity in the admin programme (tests/programme); the old
        # typed-in counts form now leads there, and changes nothing on its own.
        active = MemberFactory(community=community, display_name="活跃分子")
        services.membership_add(member=active, group=design, source="manual")
        response = client.post(
            url("rotate", community.slug, design.pk),
            {"month": "2026-11", "top": 3, "counts": "活跃分子, 120\n路人甲, 3"},
        )
        assert response.status_code == 302
        assert response["Location"] == f"/c/{community.slug}/growth/admins/?group={design.pk}"
        assert Membership.objects.get(member=active, group=design).role == Role.MEMBER

    def test_the_team_page_previews_the_welcome(self, community, design, owner):
        html = page_client(owner).get(url("team", community.slug, design.pk)).content.decode()
        assert "Welcome New member to “设计美学交流群”!" in html and "transition window" in html


def test_welcome_messages_land_in_the_outbox(community, design, owner, client):
    invitation = services.application_approve(
        application=services.application_submit(group=design, display_name="甲", phone="13000000001"), by=owner
    )
    client.post(url("invitation", invitation.token))
    assert OutboundMessage.objects.filter(kind="welcome", group=design).count() == 1


def test_group_page_links_the_funnel(community, design, owner):
    html = page_client(owner).get(reverse("subgroups:group", args=[community.slug, design.pk])).content.decode()
    assert url("apply", community.slug, design.slug) in html
    assert url("questionnaire", community.slug, design.pk) in html
    assert Group.objects.get(pk=design.pk).in_transition


def test_assigning_a_guide_for_the_transition_window(community, design, subtree_admin):
    newcomer_guide = MemberFactory(community=community, display_name="老张")
    services.membership_add(member=newcomer_guide, group=design, source="manual")
    client = page_client(subtree_admin)
    assert b"No guide assigned yet" in client.get(url("team", community.slug, design.pk)).content
    client.post(url("guide_assign", community.slug, design.pk), {"who": "老张"})
    assert Membership.objects.get(member=newcomer_guide, group=design).role == Role.GUIDE
    assert b"No guide assigned yet" not in client.get(url("team", community.slug, design.pk)).content
    response = client.post(url("guide_assign", community.slug, design.pk), {"who": "不存在"}, follow=True)
    assert "No member called" in response.content.decode()


def test_a_subtree_admin_sees_only_their_subtree_on_the_overview_and_tree(community, coders, subtree_admin):
    from tests.factories import add_members

    add_members(coders, 7)
    client = page_client(subtree_admin)
    overview = client.get(reverse("subgroups:overview", args=[community.slug])).content.decode()
    assert "Hub members" not in overview and "程序员技术群" not in overview
    tree_html = client.get(reverse("subgroups:tree", args=[community.slug])).content.decode()
    chart = tree_html.split('data-testid="orgchart"')[1].split("</section>")[0]
    assert "设计美学交流群" in chart and "摄影群" in chart
    assert "程序员技术群" not in tree_html
    assert "互联网从业者交流群" not in chart  # the hub's box: the community's name still heads the page
