"""The analytics pages: what each persona sees, exports, reports and thresholds."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from analytics.models import Alert, AlertStatus, AnalyticsSettings, HealthReport, MemberMetric
from analytics.services.ingest import events_ingest
from analytics.services.metrics import metrics_compute
from members.models import Application, Member
from members.services.questionnaire import questionnaire_add_article_questions
from tests.personas import page_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def numbers(community, design, photo, coders):
    """A few weeks of activity in every group, with phones on the members, then a run."""
    now = timezone.now()
    events = []
    for index, group in enumerate((community.hub, design, photo, coders)):
        for n in range(12):
            for day in range(0, 20, 1 + n % 4):
                events.append(
                    {
                        "type": "message" if n % 3 else "visit",
                        "group": group.pk,
                        "user_id": f"g{index}-u{n}",
                        "user_name": f"成员{index}{n}",
                        "occurred_at": (now - timedelta(days=day, minutes=n)).isoformat(),
                        "event_id": f"g{index}-u{n}-d{day}",
                    }
                )
        events.append(
            {
                "type": "leave",
                "group": group.pk,
                "user_id": f"g{index}-u11",
                "occurred_at": (now - timedelta(days=8)).isoformat(),
                "event_id": f"g{index}-left",
            }
        )
    events_ingest(raw_events=events, groups=[community.hub, design, photo, coders])
    Member.objects.filter(community=community).update(phone="13812341234")
    metrics_compute(community=community)
    return community


def get(user, url):
    return page_client(user).get(url)


class TestOverview:
    def test_the_owner_sees_kpis_charts_the_tree_and_alerts(self, owner, numbers):
        response = get(owner, f"/c/{numbers.slug}/analytics/")
        assert response.status_code == 200
        page = response.content.decode()
        for text in ("DAU rate", 'data-chart="line"', "Groups by health", "程序员技术群", "Churn model", "Alerts"):
            assert text in page
        assert response.context["kpis"][0]["value"] > 0
        assert response.context["alerts"]

    def test_a_subtree_admin_sees_their_subtree_only(self, subtree_admin, numbers):
        response = get(subtree_admin, f"/c/{numbers.slug}/analytics/")
        assert response.status_code == 200
        names = [entry["group"].name for entry in response.context["tree"]]
        assert names == ["设计美学交流群", "摄影群"]
        assert not response.context["kpis"]  # community-wide numbers need the hub
        assert {alert.group.name for alert in response.context["alerts"]} <= {"设计美学交流群", "摄影群"}

    @pytest.mark.parametrize(
        "path",
        ["", "members/", "survey/", "reports/", "thresholds/", "groups/{hub}/", "members/?export=csv", "imports/"],
    )
    def test_outsiders_and_members_without_a_role_get_404(self, outsider, plain_member, numbers, path):
        url = f"/c/{numbers.slug}/analytics/" + path.format(hub=numbers.hub_id)
        assert get(outsider, url).status_code == 404
        assert get(plain_member, url).status_code == 404

    def test_groups_export_as_csv_and_xlsx(self, owner, numbers):
        response = get(owner, f"/c/{numbers.slug}/analytics/?export=csv")
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert rows[0][:2] == ["Group", "Level"] and len(rows) == 5
        assert {row[0] for row in rows[1:]} == {numbers.name, "设计美学交流群", "摄影群", "程序员技术群"}
        book = load_workbook(io.BytesIO(get(owner, f"/c/{numbers.slug}/analytics/?export=xlsx").content))
        assert book.active.max_row == 5
        assert get(owner, f"/c/{numbers.slug}/analytics/?export=pdf").status_code == 404

    def test_alerts_export_only_what_the_user_sees(self, subtree_admin, numbers):
        body = get(subtree_admin, f"/c/{numbers.slug}/analytics/?export=csv&table=alerts").content.decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(body)))
        assert rows and {row["Group"] for row in rows} <= {"设计美学交流群", "摄影群"}


class TestGroupPage:
    def test_trends_states_and_siblings(self, owner, numbers, design, coders):
        response = get(owner, f"/c/{numbers.slug}/analytics/groups/{design.pk}/")
        assert response.status_code == 200
        rates = [entry["day"].speaking_rate_week or 0 for entry in response.context["board"]]
        assert rates == sorted(rates, reverse=True)  # best speaking rate first
        assert {entry["group"] for entry in response.context["board"]} == {design, coders}
        assert sum(count for _state, count in response.context["by_state"]) == 12 - 1  # one left

    def test_a_subtree_admin_does_not_see_the_sibling_it_does_not_run(self, subtree_admin, numbers, design, coders):
        response = get(subtree_admin, f"/c/{numbers.slug}/analytics/groups/{design.pk}/")
        assert [entry["group"] for entry in response.context["board"]] == [design]
        assert get(subtree_admin, f"/c/{numbers.slug}/analytics/groups/{coders.pk}/").status_code == 404

    def test_days_export(self, owner, numbers, design):
        response = get(owner, f"/c/{numbers.slug}/analytics/groups/{design.pk}/?export=csv&table=trend")
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert rows[0][0] == "Day" and len(rows) > 15


class TestMembers:
    def test_filters_and_masked_phones(self, subtree_admin, numbers):
        response = get(subtree_admin, f"/c/{numbers.slug}/analytics/members/")
        page = response.content.decode()
        assert "138****1234" in page and "13812341234" not in page
        # Members of their subtree only: design's and photo's 12 each, less the one who left each,
        # and the admin themself.
        assert response.context["page"].paginator.count == 12 + 12 - 2 + 1

    def test_the_owner_sees_phones_and_filters_by_state(self, owner, numbers):
        everyone = get(owner, f"/c/{numbers.slug}/analytics/members/")
        assert "13812341234" in everyone.content.decode()
        active = get(owner, f"/c/{numbers.slug}/analytics/members/?state=active")
        expected = MemberMetric.objects.filter(community=numbers, state="active").count()
        assert active.context["page"].paginator.count == expected > 0

    def test_a_bad_filter_is_a_form_error_not_a_500(self, owner, numbers):
        response = get(owner, f"/c/{numbers.slug}/analytics/members/?state=bogus&group=x")
        assert response.status_code == 200
        assert response.context["form"].errors

    def test_export_keeps_the_mask(self, subtree_admin, numbers):
        response = get(subtree_admin, f"/c/{numbers.slug}/analytics/members/?export=csv")
        body = response.content.decode("utf-8-sig")
        assert "138****1234" in body and "13812341234" not in body
        book = load_workbook(
            io.BytesIO(get(subtree_admin, f"/c/{numbers.slug}/analytics/members/?export=xlsx").content)
        )
        assert book.active.max_row == 1 + 23


class TestSurvey:
    def test_answers_by_group(self, owner, community, design, coders):
        questions = questionnaire_add_article_questions(group=design)
        topics = questions[0]
        for group, picks in ((design, ["设计", "摄影"]), (design, ["设计"]), (coders, ["技术"])):
            Application.objects.create(
                community=community,
                group=group,
                display_name="申请人",
                answers=[{"id": topics.pk, "question": topics.text, "answer": picks}],
                contact_key=f"k{len(picks)}{group.pk}",
                status_token=f"t{len(picks)}{group.pk}",
            )
        response = get(owner, f"/c/{community.slug}/analytics/survey/")
        table = next(table for table in response.context["tables"] if table["question"] == topics.text)
        rows = dict(table["rows"])
        design_column = table["groups"].index("设计美学交流群")
        assert rows["设计"][design_column] == 2 and rows["摄影"][design_column] == 1
        assert rows["∑"][-1] == 4
        flat = get(owner, f"/c/{community.slug}/analytics/survey/?export=csv").content.decode("utf-8-sig")
        assert f"{topics.text},设计,设计美学交流群,2" in flat
        xlsx = get(owner, f"/c/{community.slug}/analytics/survey/?export=xlsx")
        assert load_workbook(io.BytesIO(xlsx.content)).active.max_row >= 3


class TestReports:
    def test_generate_read_and_download(self, owner, numbers):
        client = page_client(owner)
        response = client.post(f"/c/{numbers.slug}/analytics/reports/generate/")
        report = HealthReport.objects.get(community=numbers)
        assert response.status_code == 302 and report.week_start.weekday() == 0
        page = client.get(f"/c/{numbers.slug}/analytics/reports/{report.week_start}/")
        assert page.status_code == 200 and "设计美学交流群" in page.content.decode()
        xlsx = client.get(f"/c/{numbers.slug}/analytics/reports/{report.week_start}/?export=xlsx")
        book = load_workbook(io.BytesIO(xlsx.content))
        assert book.sheetnames == ["Community", "Groups"]
        assert client.get(f"/c/{numbers.slug}/analytics/reports/not-a-date/").status_code == 404

    def test_a_second_generation_replaces_the_week(self, owner, numbers):
        client = page_client(owner)
        client.post(f"/c/{numbers.slug}/analytics/reports/generate/")
        client.post(f"/c/{numbers.slug}/analytics/reports/generate/")
        assert HealthReport.objects.filter(community=numbers).count() == 1

    def test_the_weekly_task_reports_every_community(self, numbers, other_community):
        from analytics.tasks import weekly_reports

        assert weekly_reports.apply().get() == 2
        assert HealthReport.objects.count() == 2


class TestThresholds:
    def test_invalid_values_are_form_errors(self, owner, community):
        response = page_client(owner).post(
            f"/c/{community.slug}/analytics/thresholds/",
            {"risk_medium": "0.9", "risk_high": "0.5", "silent_days": "30", "churned_days": "20"},
        )
        assert response.status_code == 200
        errors = response.context["form"].errors
        assert "risk_high" in errors and "churned_days" in errors and "active_messages_per_week" in errors
        assert not AnalyticsSettings.objects.exists()

    def test_saving_them(self, owner, community):
        form = get(owner, f"/c/{community.slug}/analytics/thresholds/").context["form"]
        values = {name: field.initial for name, field in form.fields.items() if field.initial is not None}
        values = {name: form.initial.get(name, value) for name, value in values.items()}
        values |= {"silent_days": 21, "keep_message_text": ""}
        response = page_client(owner).post(f"/c/{community.slug}/analytics/thresholds/", values)
        assert response.status_code == 302
        assert AnalyticsSettings.objects.get(community=community).silent_days == 21


class TestAlertsAndCompute:
    def test_dismissing_an_alert(self, owner, numbers):
        alert = Alert.objects.filter(community=numbers, status=AlertStatus.OPEN).first()
        response = page_client(owner).post(f"/c/{numbers.slug}/analytics/alerts/{alert.pk}/dismiss/")
        assert response.status_code == 302
        alert.refresh_from_db()
        assert alert.status == AlertStatus.DISMISSED and alert.resolved_by == owner

    def test_a_subtree_admin_cannot_dismiss_anothers_alert(self, subtree_admin, numbers, coders):
        alert = Alert.objects.filter(community=numbers, group=coders, status=AlertStatus.OPEN).first()
        assert alert is not None
        response = page_client(subtree_admin).post(f"/c/{numbers.slug}/analytics/alerts/{alert.pk}/dismiss/")
        assert response.status_code == 404

    def test_compute_now(self, owner, community, django_capture_on_commit_callbacks, eager_tasks):
        events_ingest(
            raw_events=[
                {
                    "type": "message",
                    "group": community.hub_id,
                    "user_id": "a",
                    "occurred_at": timezone.now().isoformat(),
                    "event_id": "x",
                }
            ],
            groups=[community.hub],
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = page_client(owner).post(f"/c/{community.slug}/analytics/compute/")
        assert response.status_code == 302
        assert (
            MemberMetric.objects.filter(community=community).count()
            == Member.objects.filter(community=community).count()
        )
