import pytest

from members import services
from members.models import Application, ApplicationStatus, LiveCode, Member, Membership, Role
from members.services.questionnaire import questionnaire_add_article_questions
from subgroups.models import Group, Platform
from tests.factories import GroupFactory, MemberFactory
from tests.personas import api_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def lin(community, design):
    member = MemberFactory(
        community=community, display_name="林嘉琪", phone="13812345678", email="lin@example.org", tags=["摄影"]
    )
    services.membership_add(member=member, group=design, source="manual")
    return member


class TestMembers:
    def test_owners_see_phones_and_admins_see_them_masked(self, lin, owner, subtree_admin):
        as_owner = api_client(owner).get(f"/api/v1/members/{lin.pk}/").json()
        as_admin = api_client(subtree_admin).get(f"/api/v1/members/{lin.pk}/").json()
        assert (as_owner["phone"], as_owner["email"]) == ("13812345678", "lin@example.org")
        assert (as_admin["phone"], as_admin["email"]) == ("138****5678", "l***@example.org")

    def test_the_list_is_scoped_and_filtered(self, community, lin, coders, subtree_admin, sibling_admin):
        other = MemberFactory(community=community, display_name="周一诺")
        services.membership_add(member=other, group=coders, source="manual")
        names = {
            member["display_name"] for member in api_client(subtree_admin).get("/api/v1/members/").json()["results"]
        }
        assert "林嘉琪" in names and "周一诺" not in names
        found = api_client(sibling_admin).get("/api/v1/members/", {"search": "林"}).json()
        assert found["count"] == 0
        by_group = api_client(subtree_admin).get("/api/v1/members/", {"group": lin.memberships.get().group_id}).json()
        assert {member["display_name"] for member in by_group["results"]} == {"subtree_admin", "林嘉琪"}
        by_tag = api_client(subtree_admin).get("/api/v1/members/", {"tag": "摄影"}).json()
        assert [member["display_name"] for member in by_tag["results"]] == ["林嘉琪"]

    def test_an_outsider_gets_404(self, lin, outsider):
        assert api_client(outsider).get(f"/api/v1/members/{lin.pk}/").status_code == 404

    def test_creating_a_member_in_a_group(self, community, design, subtree_admin):
        response = api_client(subtree_admin).post(
            "/api/v1/members/",
            {
                "community": community.pk,
                "group": design.pk,
                "display_name": "宋浩然",
                "phone": "13900001111",
                "tags": ["设计"],
                "handles": [{"platform": "wechat", "external_id": "wx-song"}],
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
        assert response.json()["phone"] == "139****1111"
        member = Member.objects.get(display_name="宋浩然")
        assert member.memberships.get().group == design

    def test_an_admin_without_the_hub_cannot_create_outside_a_group(self, community, subtree_admin):
        response = api_client(subtree_admin).post(
            "/api/v1/members/", {"community": community.pk, "display_name": "x"}, format="json"
        )
        assert response.status_code == 403

    def test_only_owners_change_personal_data(self, lin, owner, subtree_admin):
        assert api_client(subtree_admin).patch(f"/api/v1/members/{lin.pk}/", {"phone": "1"}).status_code == 403
        response = api_client(subtree_admin).patch(f"/api/v1/members/{lin.pk}/", {"city": "杭州"})
        assert response.status_code == 200 and response.json()["city"] == "杭州"
        response = api_client(owner).patch(f"/api/v1/members/{lin.pk}/", {"phone": "13800000000"})
        assert response.json()["phone"] == "13800000000"

    def test_bad_member_data_is_a_400(self, lin, owner):
        response = api_client(owner).patch(f"/api/v1/members/{lin.pk}/", {"phone": "call me"})
        assert response.status_code == 400 and "phone" in response.json()["extra"]["fields"]


class TestMemberships:
    def test_giving_a_role(self, lin, design, subtree_admin):
        client = api_client(subtree_admin)
        response = client.post(
            "/api/v1/memberships/", {"member": lin.pk, "group": design.pk, "role": "guide"}, format="json"
        )
        assert response.status_code == 201 and response.json()["role"] == "guide"
        assert Membership.objects.get(member=lin, group=design).role == Role.GUIDE

    def test_an_admin_cannot_make_owners(self, lin, design, subtree_admin):
        response = api_client(subtree_admin).post(
            "/api/v1/memberships/", {"member": lin.pk, "group": design.pk, "role": "owner"}, format="json"
        )
        assert response.status_code == 403

    def test_a_sibling_admin_cannot_touch_the_group(self, lin, design, sibling_admin):
        response = api_client(sibling_admin).post(
            "/api/v1/memberships/", {"member": lin.pk, "group": design.pk, "role": "member"}, format="json"
        )
        assert response.status_code == 400  # neither the member nor the group exists for them

    def test_ending_a_membership(self, lin, design, subtree_admin):
        membership = lin.memberships.get()
        response = api_client(subtree_admin).post(f"/api/v1/memberships/{membership.pk}/end/", {"removed": True})
        assert response.status_code == 200 and response.json()["status"] == "removed"
        design.refresh_from_db()
        assert design.member_count == 1  # the admin remains

    def test_changing_a_role(self, lin, design, subtree_admin):
        membership = lin.memberships.get()
        response = api_client(subtree_admin).patch(f"/api/v1/memberships/{membership.pk}/", {"role": "admin"})
        assert response.status_code == 200 and response.json()["role"] == "admin"


class TestApplications:
    def test_the_public_endpoint_takes_an_application(self, community, design, anonymous_api):
        questions = questionnaire_add_article_questions(group=design)
        questionnaire = anonymous_api.get(f"/api/v1/public/groups/{community.slug}/{design.slug}/questions/").json()
        assert [question["field"] for question in questionnaire] == [f"q_{question.pk}" for question in questions]
        answers = {
            questionnaire[0]["field"]: ["设计"],
            questionnaire[1]["field"]: "50人以内",
            questionnaire[2]["field"]: "每天几条",
            questionnaire[3]["field"]: "不愿意",
        }
        response = anonymous_api.post(
            "/api/v1/public/applications/",
            {
                "community": community.slug,
                "group": design.slug,
                "display_name": "何雨桐",
                "phone": "13700000000",
                "answers": answers,
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["status"] == "pending" and body["status_url"].startswith("/applications/")

    def test_missing_answers_are_a_400_per_question(self, community, design, anonymous_api):
        questions = questionnaire_add_article_questions(group=design)
        response = anonymous_api.post(
            "/api/v1/public/applications/",
            {"community": community.slug, "group": design.slug, "display_name": "何雨桐", "phone": "13700000000"},
            format="json",
        )
        assert response.status_code == 400
        assert set(response.json()["extra"]["fields"]) == {f"q_{question.pk}" for question in questions}

    def test_too_many_applications_are_a_429(self, community, design, anonymous_api, settings):
        settings.CANOPY_APPLY_LIMIT_PER_CONTACT = 1
        payload = {"community": community.slug, "group": design.slug, "display_name": "x", "phone": "13700000000"}
        assert anonymous_api.post("/api/v1/public/applications/", payload, format="json").status_code == 201
        response = anonymous_api.post(
            "/api/v1/public/applications/",
            {**payload, "group": Group.objects.get(name="程序员技术群").slug},
            format="json",
        )
        assert response.status_code == 429 and "Too many" in response.json()["message"]

    def test_an_unknown_group_is_a_404(self, community, anonymous_api):
        response = anonymous_api.post(
            "/api/v1/public/applications/",
            {"community": community.slug, "group": "nope", "display_name": "x", "phone": "13700000000"},
            format="json",
        )
        assert response.status_code == 404

    def test_reviewers_list_approve_and_reject(self, design, photo, coders, subtree_admin):
        mine = services.application_submit(group=photo, display_name="甲", phone="13000000001")
        other = services.application_submit(group=design, display_name="乙", phone="13000000002")
        theirs = services.application_submit(group=coders, display_name="丙", phone="13000000003")
        client = api_client(subtree_admin)
        listed = [item["id"] for item in client.get("/api/v1/applications/").json()["results"]]
        assert listed == [mine.pk, other.pk]
        invitation = client.post(f"/api/v1/applications/{mine.pk}/approve/").json()
        assert invitation["state"] == "open" and invitation["url"].endswith(f"/invite/{invitation['token']}/")
        rejected = client.post(f"/api/v1/applications/{other.pk}/reject/", {"reason": "名额已满"}).json()
        assert rejected["status"] == "rejected" and rejected["decided_by"] == "subtree_admin"
        assert client.post(f"/api/v1/applications/{theirs.pk}/approve/").status_code == 404
        assert client.post(f"/api/v1/applications/{mine.pk}/approve/").status_code == 400

    def test_bulk_approval(self, design, subtree_admin):
        ids = [services.application_submit(group=design, display_name="x", phone=f"1300000000{n}").pk for n in range(3)]
        result = (
            api_client(subtree_admin).post("/api/v1/applications/bulk-approve/", {"ids": ids}, format="json").json()
        )
        assert result == {"approved": 3, "skipped": []}
        assert Application.objects.filter(status=ApplicationStatus.APPROVED).count() == 3

    def test_an_integration_reports_the_join_from_the_platform_account(
        self, design, owner, subtree_admin, anonymous_api
    ):
        application = services.application_submit(group=design, display_name="甲", phone="13000000001")
        invitation = services.application_approve(application=application, by=owner)
        payload = {"token": invitation.token, "platform": "wechat", "external_user_id": "wx-jia"}
        assert anonymous_api.post("/api/v1/invitations/accept/", payload, format="json").status_code == 401
        response = api_client(subtree_admin).post("/api/v1/invitations/accept/", payload, format="json")
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["membership"]["group"] == design.pk and "甲" in body["welcome"]
        member = Membership.objects.get(pk=body["membership"]["id"]).member
        assert list(member.handles.values_list("external_id", flat=True)) == ["wx-jia"]
        again = api_client(subtree_admin).post("/api/v1/invitations/accept/", payload, format="json")
        assert again.status_code == 400

    def test_an_integration_outside_the_group_cannot_use_its_invitations(self, design, owner, sibling_admin):
        application = services.application_submit(group=design, display_name="甲", phone="13000000001")
        invitation = services.application_approve(application=application, by=owner)
        response = api_client(sibling_admin).post(
            "/api/v1/invitations/accept/",
            {"token": invitation.token, "platform": "wechat", "external_user_id": "wx-jia"},
            format="json",
        )
        assert response.status_code == 404

    def test_an_integration_applies_for_a_platform_account(self, community, owner):
        gold = GroupFactory(
            parent=community.hub, name="黄金VIP群", kind="tier", admission_criteria={"min_purchases": 3}
        )
        MemberFactory(community=community, purchase_count=5, handles=[("wechat", "wx-gold")])
        response = api_client(owner).post(
            "/api/v1/applications/",
            {"group": gold.pk, "display_name": "老客户", "platform": "wechat", "external_user_id": "wx-gold"},
            format="json",
        )
        assert response.status_code == 201, response.json()
        assert response.json()["status"] == "approved" and response.json()["invitation"]["state"] == "open"


class TestLiveCodes:
    def test_creating_and_resolving_a_live_code(self, community, design, owner, anonymous_api):
        first = GroupFactory(parent=design, name="互联网从业者交流群-摄影小群01", platform=Platform.QQ, capacity=1)
        response = api_client(owner).post(
            "/api/v1/live-codes/",
            {"name": "摄影活码", "parent": design.pk, "attribute": "摄影", "groups": [first.pk]},
            format="json",
        )
        assert response.status_code == 201, response.json()
        slug = response.json()["slug"]
        bot = api_client(owner)
        seats = [
            bot.post(
                f"/api/v1/live-codes/{slug}/resolve/", {"platform": "qq", "external_user_id": f"qq-{n}"}, format="json"
            ).json()["membership"]["group_name"]
            for n in (1, 2, 1)
        ]
        # The same account scanning again keeps its seat.
        assert seats == [
            "互联网从业者交流群-摄影小群01",
            "互联网从业者交流群-摄影小群02",
            "互联网从业者交流群-摄影小群01",
        ]
        assert LiveCode.objects.get(slug=slug).scan_count == 3
        anonymous = anonymous_api.post(
            f"/api/v1/live-codes/{slug}/resolve/", {"platform": "qq", "external_user_id": "qq-9"}, format="json"
        )
        assert anonymous.status_code == 401

    def test_an_admin_cannot_create_codes_that_open_groups(self, design, subtree_admin):
        response = api_client(subtree_admin).post(
            "/api/v1/live-codes/", {"name": "x", "parent": design.pk, "attribute": "摄影"}, format="json"
        )
        assert response.status_code == 403

    def test_an_unknown_or_foreign_code_is_a_404(self, community, design, owner, outsider):
        code = services.livecode_create(community=community, name="活码", parent=design, attribute="摄影")
        payload = {"platform": "qq", "external_user_id": "qq-1"}
        assert api_client(owner).post("/api/v1/live-codes/nope/resolve/", payload, format="json").status_code == 404
        foreign = api_client(outsider).post(f"/api/v1/live-codes/{code.slug}/resolve/", payload, format="json")
        assert foreign.status_code == 404
