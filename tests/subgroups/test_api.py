import json

import pytest

from subgroups.models import Community, Group, GroupStatus
from tests.factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db


def group_id(name: str) -> int:
    return Group.objects.get(name=name).pk


class TestAuthentication:
    @pytest.mark.parametrize("url", ["/api/v1/groups/", "/api/v1/communities/"])
    def test_it_answers_401_without_credentials(self, anonymous_api, url):
        response = anonymous_api.get(url)
        assert response.status_code == 401
        assert response.json()["message"]
        assert response["WWW-Authenticate"] == "Bearer"  # an integration key; staff tokens ("Token …") work too

    def test_a_wrong_token_is_401(self, anonymous_api, community):
        anonymous_api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
        assert anonymous_api.get("/api/v1/groups/").status_code == 401

    def test_the_session_works_for_the_browsable_api(self, client, operator):
        client.force_login(operator)
        response = client.get("/api/v1/groups/", HTTP_ACCEPT="text/html")
        assert response.status_code == 200 and b"Django REST framework" in response.content


class TestList:
    def test_it_lists_only_the_users_communities_in_tree_order(self, api, community, other_community):
        response = api.get("/api/v1/groups/")
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 4
        assert [group["name"] for group in body["results"]] == [
            "互联网从业者交流群",
            "设计美学交流群",
            "摄影群",
            "程序员技术群",
        ]

    def test_it_filters_by_kind_parent_and_search(self, api, community):
        hub = community.hub
        assert api.get("/api/v1/groups/", {"kind": "hub"}).json()["count"] == 1
        assert api.get("/api/v1/groups/", {"parent": hub.pk}).json()["count"] == 2
        assert [g["name"] for g in api.get("/api/v1/groups/", {"search": "摄影"}).json()["results"]] == ["摄影群"]

    def test_a_bad_filter_is_a_400_with_field_messages(self, api, community):
        response = api.get("/api/v1/groups/", {"kind": "galaxy"})
        assert response.status_code == 400
        assert "kind" in response.json()["extra"]["fields"]

    def test_pages_are_limited(self, api, community):
        body = api.get("/api/v1/groups/", {"page_size": 2}).json()
        assert len(body["results"]) == 2 and body["next"]

    def test_superusers_see_every_community(self, community, other_community, superuser):
        from tests.conftest import _token_client

        assert _token_client(superuser).get("/api/v1/communities/").json()["count"] == 2


class TestRetrieve:
    def test_it_returns_the_group(self, api, community):
        body = api.get(f"/api/v1/groups/{group_id('摄影群')}/").json()
        assert body["name"] == "摄影群" and body["level"] == 2 and body["capacity"] == 500
        assert body["community"] == community.pk and body["status"] == "open"

    def test_another_communitys_group_is_404(self, api, other_community):
        response = api.get(f"/api/v1/groups/{group_id('北京车友群')}/")
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "message": "Not found.", "extra": {}}

    def test_another_community_is_404(self, api, other_community):
        assert api.get(f"/api/v1/communities/{other_community.pk}/").status_code == 404


class TestCreate:
    def test_it_creates_a_child_with_defaults(self, api, community):
        response = api.post(
            "/api/v1/groups/",
            {
                "parent": community.hub_id,
                "name": "运营增长实战群",
                "kind": "interest",
                "admission_criteria": {"tags": ["增长"]},
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["parent"] == community.hub_id and body["capacity"] == 500
        assert body["slug"] == "yun-ying-zeng-zhang-shi-zhan-qun"
        assert body["admission_criteria"] == {"tags": ["增长"]}
        assert Group.objects.get(pk=body["id"]).community == community

    def test_a_banned_word_is_a_400_on_the_name_field(self, api, community):
        response = api.post("/api/v1/groups/", {"parent": community.hub_id, "name": "精英群", "kind": "interest"})
        assert response.status_code == 400
        body = response.json()
        assert "精英" in body["message"]
        assert "精英" in body["extra"]["fields"]["name"][0]

    def test_missing_fields_are_listed(self, api, community):
        response = api.post("/api/v1/groups/", {}, format="json")
        assert response.status_code == 400
        assert set(response.json()["extra"]["fields"]) == {"parent", "name", "kind"}

    def test_a_parent_in_another_community_reads_as_missing(self, api, other_community):
        response = api.post("/api/v1/groups/", {"parent": other_community.hub_id, "name": "x", "kind": "interest"})
        assert response.status_code == 400
        assert "parent" in response.json()["extra"]["fields"]
        assert Group.objects.filter(name="x").count() == 0

    @pytest.mark.parametrize(
        "payload",
        [
            {"capacity": 0},
            {"capacity": "lots"},
            {"kind": "hub"},
            {"platform": "myspace"},
            {"admission_criteria": {"min_purchases": 2}},
            {"admission_criteria": "tags"},
            {"name": "a\x00b"},
            {"parent": 10**30},
        ],
    )
    def test_bad_input_is_a_400_never_a_500(self, api, community, payload):
        data = {"parent": community.hub_id, "name": "新群", "kind": "interest", **payload}
        response = api.post("/api/v1/groups/", data, format="json")
        assert response.status_code == 400, response.content
        assert response.json()["extra"]["fields"]

    @pytest.mark.parametrize(
        "criteria", [{"tags": ["\ud800"]}, {"\ud800": 1}, {"tags": ["bell\x07"]}], ids=["value", "key", "control"]
    )
    def test_unencodable_text_in_criteria_is_a_400_and_nothing_is_saved(self, api, community, criteria):
        body = json.dumps(
            {"parent": community.hub_id, "name": "新群", "kind": "interest", "admission_criteria": criteria}
        )
        response = api.generic("POST", "/api/v1/groups/", body, content_type="application/json")
        assert response.status_code == 400
        assert "admission_criteria" in response.json()["extra"]["fields"]
        assert not Group.objects.filter(name="新群").exists()
        assert api.get("/api/v1/groups/").status_code == 200

    def test_malformed_json_is_a_400(self, api, community):
        response = api.generic("POST", "/api/v1/groups/", "{not json", content_type="application/json")
        assert response.status_code == 400
        assert "JSON" in response.json()["message"]


class TestUpdate:
    def test_it_renames_and_changes_settings(self, api, community):
        pk = group_id("设计美学交流群")
        response = api.patch(
            f"/api/v1/groups/{pk}/",
            {"name": "设计交流群", "capacity": 200, "admission_criteria": {"tags": ["设计", "UI"]}},
            format="json",
        )
        assert response.status_code == 200, response.json()
        group = Group.objects.get(pk=pk)
        assert (group.name, group.capacity, group.admission_criteria) == ("设计交流群", 200, {"tags": ["设计", "UI"]})

    def test_a_bad_update_changes_nothing(self, api, community):
        pk = group_id("设计美学交流群")
        response = api.patch(f"/api/v1/groups/{pk}/", {"name": "高级设计群", "capacity": 300}, format="json")
        assert response.status_code == 400
        group = Group.objects.get(pk=pk)
        assert (group.name, group.capacity) == ("设计美学交流群", 500)

    def test_put_is_not_offered(self, api, community):
        assert api.put(f"/api/v1/groups/{community.hub_id}/", {}).status_code == 405

    def test_an_outsider_cannot_update(self, outsider_api, community):
        pk = group_id("设计美学交流群")
        assert outsider_api.patch(f"/api/v1/groups/{pk}/", {"name": "x"}).status_code == 404
        assert Group.objects.get(pk=pk).name == "设计美学交流群"


class TestTreeAndMermaid:
    def test_tree_returns_nested_json(self, api, community):
        body = api.get(f"/api/v1/groups/{community.hub_id}/tree/").json()
        assert body["name"] == "互联网从业者交流群"
        assert [child["name"] for child in body["children"]] == ["设计美学交流群", "程序员技术群"]
        assert body["children"][0]["children"][0]["name"] == "摄影群"

    def test_mermaid_returns_text(self, api, community):
        response = api.get(f"/api/v1/groups/{community.hub_id}/mermaid/")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        text = response.content.decode()
        assert text.startswith("graph TD\n") and "设计美学交流群" in text and text.count("-->") == 3

    def test_mermaid_errors_are_json(self, api, other_community):
        response = api.get(f"/api/v1/groups/{other_community.hub_id}/mermaid/")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json()["message"]

    def test_outsiders_get_404_for_tree_and_mermaid(self, outsider_api, community):
        for action in ("tree", "mermaid"):
            assert outsider_api.get(f"/api/v1/groups/{community.hub_id}/{action}/").status_code == 404


class TestMove:
    def test_it_moves_a_subtree(self, api, community):
        design, coders = group_id("设计美学交流群"), group_id("程序员技术群")
        response = api.post(f"/api/v1/groups/{design}/move/", {"parent": coders})
        assert response.status_code == 200
        assert response.json()["parent"] == coders and response.json()["level"] == 2
        assert Group.objects.get(name="摄影群").level == 3

    def test_a_cycle_is_a_400_on_parent(self, api, community):
        design, photo = group_id("设计美学交流群"), group_id("摄影群")
        response = api.post(f"/api/v1/groups/{design}/move/", {"parent": photo})
        assert response.status_code == 400
        assert "parent" in response.json()["extra"]["fields"]

    def test_a_move_into_another_community_is_refused(self, api, community, other_community):
        response = api.post(f"/api/v1/groups/{group_id('设计美学交流群')}/move/", {"parent": other_community.hub_id})
        assert response.status_code == 400
        assert Group.objects.get(name="设计美学交流群").community == community


class TestArchive:
    def test_archive_and_restore(self, api, community):
        design = group_id("设计美学交流群")
        assert api.post(f"/api/v1/groups/{design}/archive/").json() == {"changed": 2}
        assert Group.objects.get(name="摄影群").status == GroupStatus.ARCHIVED
        assert api.post(f"/api/v1/groups/{design}/restore/").json() == {"changed": 2}
        assert Group.objects.get(name="摄影群").status == GroupStatus.OPEN

    def test_archiving_the_hub_is_a_400(self, api, community):
        response = api.post(f"/api/v1/groups/{community.hub_id}/archive/")
        assert response.status_code == 400 and response.json()["message"]


class TestCommunities:
    def test_any_user_can_start_a_community_and_runs_it(self, db):
        from tests.conftest import _token_client

        user = UserFactory()
        client = _token_client(user)
        response = client.post("/api/v1/communities/", {"name": "读书会", "slug": "books", "capacity": 800})
        assert response.status_code == 201, response.json()
        assert response.json()["name"] == "读书会"
        assert client.get("/api/v1/groups/").json()["count"] == 1
        assert Community.objects.get(slug="books").hub.capacity == 800

    def test_settings_update(self, api, community):
        response = api.patch(
            f"/api/v1/communities/{community.pk}/",
            {"banned_name_words": ["土豪", "土豪", " "], "time_zone": "Asia/Tokyo"},
            format="json",
        )
        assert response.status_code == 200
        assert response.json()["banned_name_words"] == ["土豪"]
        assert (
            api.post("/api/v1/groups/", {"parent": community.hub_id, "name": "高级群", "kind": "custom"}).status_code
            == 201
        )

    def test_propose_name(self, api, community):
        GroupFactory(parent=community.hub, name="互联网从业者交流群-摄影小群01")
        response = api.get(f"/api/v1/communities/{community.pk}/propose-name/", {"attribute": "摄影"})
        assert response.json() == {"name": "互联网从业者交流群-摄影小群02"}
        assert api.get(f"/api/v1/communities/{community.pk}/propose-name/").status_code == 400


def test_the_token_command_makes_a_working_token(operator, community, anonymous_api):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("drf_create_token", "operator", stdout=out)
    key = out.getvalue().split()[2]
    anonymous_api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert anonymous_api.get("/api/v1/groups/").json()["count"] == 4
