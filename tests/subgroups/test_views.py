import json
import re

import pytest
from django.urls import reverse

from subgroups.models import Community, Group, GroupStatus
from tests.factories import UserFactory, add_members

pytestmark = pytest.mark.django_db


def url(name: str, community: Community, *args) -> str:
    return reverse(f"subgroups:{name}", args=[community.slug, *args])


def group(name: str) -> Group:
    return Group.objects.get(name=name)


class TestAccess:
    def test_anonymous_visitors_are_sent_to_log_in(self, client, community):
        response = client.get(url("tree", community))
        assert response.status_code == 302 and response["Location"].startswith("/login/")

    @pytest.mark.parametrize("name", ["overview", "tree", "settings", "mermaid"])
    def test_outsiders_get_404(self, outsider_client, community, name):
        assert outsider_client.get(url(name, community)).status_code == 404

    def test_outsiders_cannot_post_either(self, outsider_client, community):
        response = outsider_client.post(url("group_archive", community, group("设计美学交流群").pk))
        assert response.status_code == 404
        assert group("设计美学交流群").status == GroupStatus.OPEN

    def test_a_group_is_only_found_in_its_own_community(self, operator_client, community, other_community):
        foreign = Group.objects.get(name="北京车友群")
        assert operator_client.get(url("group", community, foreign.pk)).status_code == 404

    def test_home_goes_to_the_users_community(self, operator_client, community):
        response = operator_client.get("/")
        assert response.status_code == 302 and response["Location"] == url("overview", community)

    def test_home_offers_to_create_when_there_is_none(self, client, db):
        client.force_login(UserFactory())
        response = client.get("/")
        assert response.status_code == 200
        assert reverse("subgroups:community_new").encode() in response.content

    def test_the_switcher_only_goes_to_visible_communities(self, operator_client, community, other_community):
        assert operator_client.get(reverse("subgroups:switch"), {"to": community.slug}).status_code == 302
        assert operator_client.get(reverse("subgroups:switch"), {"to": other_community.slug}).status_code == 404


class TestLogin:
    def test_logging_in_and_out(self, client, operator):
        response = client.post(reverse("login"), {"username": "operator", "password": "correct horse battery staple"})
        assert response.status_code == 302
        assert client.get("/").status_code == 302
        client.post(reverse("logout"))
        assert client.get("/")["Location"].startswith("/login/")

    def test_a_wrong_password_is_shown_on_the_form(self, client, operator):
        response = client.post(reverse("login"), {"username": "operator", "password": "nope"})
        assert response.status_code == 200
        assert b"form-errors" in response.content


class TestTreePage:
    def test_it_draws_every_group_with_kind_size_and_capacity(self, operator_client, community):
        response = operator_client.get(url("tree", community))
        assert response.status_code == 200
        html = response.content.decode()
        chart = html.split('data-testid="orgchart"')[1].split("</section>")[0]
        for name in ["互联网从业者交流群", "设计美学交流群", "摄影群", "程序员技术群"]:
            assert name in chart
        assert chart.count('class="node ') == 4
        assert "0 / 500" in chart and "1 / 2000" in chart and "Interest" in chart  # the owner is the hub's one member
        # Nesting: 摄影群 sits inside 设计美学交流群's list item.
        design_item = chart.split("设计美学交流群")[1].split("程序员技术群")[0]
        assert "摄影群" in design_item

    def test_names_are_escaped(self, operator_client, community):
        from tests.factories import GroupFactory

        GroupFactory(parent=community.hub, name="<script>alert(1)</script>")
        html = operator_client.get(url("tree", community)).content.decode()
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html

    def test_creating_a_sub_group(self, operator_client, community):
        response = operator_client.post(
            url("group_new", community),
            {"parent": community.hub_id, "name": "运营增长实战群", "kind": "interest", "platform": "qq"},
        )
        assert response.status_code == 302
        created = group("运营增长实战群")
        assert (created.parent_id, created.platform, created.capacity) == (community.hub_id, "qq", 2000)
        page = operator_client.get(response["Location"]).content.decode()
        assert "运营增长实战群" in page and "“运营增长实战群” created." in page

    def test_creating_with_htmx_returns_the_refreshed_workspace(self, operator_client, community):
        response = operator_client.post(
            url("group_new", community),
            {"parent": community.hub_id, "name": "运营增长实战群", "kind": "interest"},
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert html.lstrip().startswith('<div id="tree-workspace">')
        assert "<html" not in html and "运营增长实战群" in html

    def test_a_banned_name_is_shown_next_to_the_field(self, operator_client, community):
        response = operator_client.post(
            url("group_new", community), {"parent": community.hub_id, "name": "精英群", "kind": "interest"}
        )
        assert response.status_code == 400
        html = response.content.decode()
        name_field = html.split('id="name-field"')[1].split("</div>")[0]
        assert "精英" in name_field and 'class="error"' in name_field
        assert not Group.objects.filter(name="精英群").exists()

    def test_the_name_suggestion_follows_the_convention(self, operator_client, community):
        response = operator_client.get(url("propose_name", community), {"attribute": "摄影"})
        assert 'value="互联网从业者交流群-摄影小群01"' in response.content.decode()
        refused = operator_client.get(url("propose_name", community), {"attribute": "高级"}).content.decode()
        assert "高级" in refused and 'class="error"' in refused

    def test_mermaid_export_downloads(self, operator_client, community):
        response = operator_client.get(url("mermaid", community))
        assert response["Content-Disposition"] == 'attachment; filename="internet.mmd"'
        assert response.content.decode().startswith("graph TD")


class TestGroupPanel:
    def test_the_panel_offers_rename_move_and_archive(self, operator_client, community):
        design = group("设计美学交流群")
        html = operator_client.get(url("group_panel", community, design.pk), HTTP_HX_REQUEST="true").content.decode()
        assert "<html" not in html
        assert url("group_rename", community, design.pk) in html
        assert url("group_move", community, design.pk) in html
        assert url("group_archive", community, design.pk) in html
        move = html.split(url("group_move", community, design.pk))[1].split("</form>")[0]
        assert f'value="{group("程序员技术群").pk}"' in move
        assert f'value="{group("摄影群").pk}"' not in move

    def test_the_hubs_panel_cannot_move_or_archive(self, operator_client, community):
        html = operator_client.get(url("group_panel", community, community.hub_id)).content.decode()
        assert url("group_move", community, community.hub_id) not in html
        assert url("group_archive", community, community.hub_id) not in html

    def test_renaming_from_the_panel_returns_to_the_tree(self, operator_client, community):
        design = group("设计美学交流群")
        response = operator_client.post(
            url("group_rename", community, design.pk), {"name": "设计交流群", "next": url("tree", community)}
        )
        assert response["Location"] == url("tree", community)
        assert Group.objects.get(pk=design.pk).name == "设计交流群"

    def test_a_refused_rename_says_why_and_keeps_the_name(self, operator_client, community):
        design = group("设计美学交流群")
        response = operator_client.post(url("group_rename", community, design.pk), {"name": "精英"}, follow=True)
        assert "精英" in response.content.decode()
        assert Group.objects.get(pk=design.pk).name == "设计美学交流群"

    def test_outsiders_get_404(self, outsider_client, community):
        design = group("设计美学交流群")
        assert outsider_client.get(url("group_panel", community, design.pk)).status_code == 404
        assert outsider_client.post(url("group_rename", community, design.pk), {"name": "x"}).status_code == 404


class TestGroupPage:
    def test_it_shows_the_group_and_its_children(self, operator_client, community):
        response = operator_client.get(url("group", community, group("设计美学交流群").pk))
        html = response.content.decode()
        assert response.status_code == 200 and "摄影群" in html and "互联网从业者交流群" in html

    def test_editing_renames_and_sets_criteria(self, operator_client, community):
        design = group("设计美学交流群")
        response = operator_client.post(
            url("group", community, design.pk),
            {"name": "设计交流群", "platform": "wechat", "capacity": 300, "tags": "设计，UI、插画"},
        )
        assert response.status_code == 302
        design.refresh_from_db()
        assert (design.name, design.capacity) == ("设计交流群", 300)
        assert design.admission_criteria == {"tags": ["设计", "UI", "插画"]}

    def test_a_bad_edit_shows_errors_and_changes_nothing(self, operator_client, community):
        design = group("设计美学交流群")
        response = operator_client.post(
            url("group", community, design.pk), {"name": "高级设计群", "platform": "wechat", "capacity": 0}
        )
        assert response.status_code == 400
        assert b'class="error"' in response.content
        design.refresh_from_db()
        assert (design.name, design.capacity) == ("设计美学交流群", 500)

    def test_moving(self, operator_client, community):
        design, coders = group("设计美学交流群"), group("程序员技术群")
        response = operator_client.post(url("group_move", community, design.pk), {"parent": coders.pk})
        assert response.status_code == 302
        assert group("设计美学交流群").parent_id == coders.pk
        assert group("摄影群").level == 3

    def test_moving_under_a_descendant_is_not_offered_or_accepted(self, operator_client, community):
        design, photo = group("设计美学交流群"), group("摄影群")
        page = operator_client.get(url("group", community, design.pk)).content.decode()
        move_form = page.split('action="' + url("group_move", community, design.pk))[1].split("</form>")[0]
        assert f'value="{photo.pk}"' not in move_form
        response = operator_client.post(url("group_move", community, design.pk), {"parent": photo.pk})
        assert response.status_code == 400
        assert group("设计美学交流群").parent_id == community.hub_id

    def test_times_read_in_the_communitys_time_zone(self, operator_client, community):
        from datetime import UTC, datetime

        design = group("设计美学交流群")
        Group.objects.filter(pk=design.pk).update(created_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
        html = operator_client.get(url("group", community, design.pk)).content.decode()
        assert "2026-03-02 07:30" in html  # Asia/Shanghai is UTC+8

    def test_archiving_and_restoring(self, operator_client, community):
        design = group("设计美学交流群")
        operator_client.post(url("group_archive", community, design.pk))
        assert group("摄影群").status == GroupStatus.ARCHIVED
        operator_client.post(url("group_restore", community, design.pk))
        assert group("摄影群").status == GroupStatus.OPEN

    def test_archiving_the_hub_shows_a_message(self, operator_client, community):
        response = operator_client.post(url("group_archive", community, community.hub_id), follow=True)
        assert b"hub cannot be archived" in response.content
        assert group("互联网从业者交流群").status == GroupStatus.OPEN

    @pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example/", "https://evil.example/", "/\t/evil"])
    def test_next_must_stay_on_this_site(self, operator_client, community, target):
        design = group("设计美学交流群")
        response = operator_client.post(url("group_archive", community, design.pk), {"next": target})
        assert response["Location"] == url("group", community, design.pk)

    def test_next_within_the_site_is_followed(self, operator_client, community):
        design = group("设计美学交流群")
        response = operator_client.post(url("group_archive", community, design.pk), {"next": url("tree", community)})
        assert response["Location"] == url("tree", community)


class TestOverview:
    def test_it_shows_figures_and_chart_data(self, operator_client, community):

        add_members(group("程序员技术群"), 180)
        response = operator_client.get(url("overview", community))
        html = response.content.decode()
        data = json.loads(
            re.search(r'<script id="fill-chart-data" type="application/json">(.*?)</script>', html).group(1)
        )
        assert data["labels"][0] == "程序员技术群" and data["members"][0] == 180 and data["room"][0] == 320
        assert "chart.umd.min.js" in html


class TestSettings:
    def test_banned_words_time_zone_and_language_are_saved(self, operator_client, community):
        response = operator_client.post(
            url("settings", community),
            {"time_zone": "Asia/Tokyo", "language": "zh-hans", "banned_name_words": "高级\n土豪, 精英"},
        )
        assert response.status_code == 302
        community.refresh_from_db()
        assert community.time_zone == "Asia/Tokyo" and community.banned_name_words == ["高级", "土豪", "精英"]
        assert community.language == "zh-hans"

    def test_an_unknown_time_zone_is_a_form_error(self, operator_client, community):
        response = operator_client.post(
            url("settings", community), {"time_zone": "Mars/Base", "language": "en", "banned_name_words": ""}
        )
        assert response.status_code == 400
        community.refresh_from_db()
        assert community.time_zone == "Asia/Shanghai"


class TestCommunityCreate:
    def test_a_user_creates_a_community_and_lands_on_its_tree(self, client, db):
        client.force_login(UserFactory())
        response = client.post(
            reverse("subgroups:community_new"),
            {
                "name": "读书会",
                "slug": "books",
                "platform": "wechat",
                "capacity": "",
                "time_zone": "Asia/Shanghai",
                "language": "en",
            },
        )
        assert response.status_code == 302 and response["Location"] == "/c/books/tree/"
        assert client.get("/c/books/tree/").status_code == 200
        assert Community.objects.get(slug="books").hub.capacity == 500


class TestLanguage:
    def test_switching_to_chinese_translates_the_dashboard(self, operator_client, community):
        english = operator_client.get(url("tree", community)).content.decode()
        assert "Outline" in english
        response = operator_client.post(
            reverse("set_language"), {"language": "zh-hans", "next": url("tree", community)}
        )
        assert response.status_code == 302
        chinese = operator_client.get(url("tree", community)).content.decode()
        assert '<html lang="zh-hans">' in chinese
        assert "树状结构" in chinese and "大纲" in chinese and "兴趣" in chinese
        assert "Outline" not in chinese

    def test_the_browser_language_is_used_by_default(self, operator_client, community):
        html = operator_client.get(url("tree", community), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
        assert "大纲" in html


def test_page_queries_do_not_grow_with_the_tree(operator_client, community):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import GroupFactory

    def queries(path: str) -> int:
        operator_client.get(path)
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as captured:
            assert operator_client.get(path).status_code == 200
        return len(captured)

    paths = [url("tree", community), url("overview", community), f"/api/v1/groups/{community.hub_id}/tree/"]
    before = [queries(path) for path in paths]
    parent = community.hub
    for index in range(20):
        parent = GroupFactory(parent=parent if index % 3 else community.hub, name=f"新群{index}")
    assert [queries(path) for path in paths] == before
