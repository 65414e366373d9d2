"""Imports of chat logs and member lists: reading CSV (UTF-8, GBK) and XLSX, the guessed mapping,
the dry run, the run itself, the pages and the management command."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from analytics.models import Event, ImportJob, ImportKind, ImportStatus
from analytics.services import imports
from core.errors import ApplicationError
from members.models import Member, Membership, MembershipSource, MembershipStatus, PlatformHandle, Role
from subgroups.models import Group
from tests.factories import MemberFactory, staff_user

CHAT_CSV = (
    "发送时间,群昵称,微信号,消息内容,类型,金额\n"
    "2025-03-01 09:30:00,小明,wx_ming,大家好,消息,\n"
    "2025/03/01 10:00,小红,wx_hong,请问今天有直播吗？,,\n"
    "2025年3月2日 08:15,小明,wx_ming,,签到,\n"
    "2025-03-02 12:00,小红,wx_hong,,购买,¥12.50\n"
)
CHAT_MAPPING = {
    "occurred_at": "发送时间",
    "user_name": "群昵称",
    "user_id": "微信号",
    "text": "消息内容",
    "type": "类型",
    "value": "金额",
}


@pytest.fixture
def hub(community) -> Group:
    return community.hub


@pytest.fixture
def design(community) -> Group:
    return Group.objects.get(community=community, name="设计美学交流群")


@pytest.fixture
def subtree_admin(design):
    """Admin of 设计美学交流群 (and the group below it), not of the hub."""
    return staff_user("subtree_admin", group=design, role=Role.ADMIN)


def upload(community, group, content: bytes | str, *, filename="chat.csv", kind=ImportKind.CHAT_LOG, by=None):
    if isinstance(content, str):
        content = content.encode()
    return imports.import_upload(community=community, group=group, kind=kind, filename=filename, content=content, by=by)


def run(job, mapping=None) -> ImportJob:
    imports.import_start(job=job, mapping=mapping or job.mapping, enqueue=False)
    imports.import_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def xlsx(rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- Reading and guessing ----------------------------------------------------------------------


@pytest.mark.django_db
def test_it_guesses_the_mapping_from_chinese_headers(community, hub, operator):
    job = upload(community, hub, CHAT_CSV, by=operator)

    assert job.status == ImportStatus.PREVIEW
    assert job.total_rows == 4
    assert job.created_by == operator
    assert job.mapping == CHAT_MAPPING
    assert imports.import_columns(job) == ["发送时间", "群昵称", "微信号", "消息内容", "类型", "金额"]


@pytest.mark.django_db
def test_it_guesses_member_list_headers(community, hub):
    job = upload(community, hub, "姓名,手机号,城市,标签,微信号\n张三,13812341234,北京,摄影\n", kind=ImportKind.MEMBERS)

    assert job.mapping == {
        "display_name": "姓名",
        "user_id": "微信号",
        "phone": "手机号",
        "city": "城市",
        "tags": "标签",
    }


@pytest.mark.django_db
def test_it_reads_a_gbk_csv_with_semicolons(community, hub):
    content = "时间;昵称;用户ID;内容\n2025-03-01 09:30;老王;wx_wang;早上好\n".encode("gbk")

    job = upload(community, hub, content)
    preview = imports.import_preview(job=job, mapping=job.mapping)

    assert job.mapping == {"occurred_at": "时间", "user_id": "用户ID", "user_name": "昵称", "text": "内容"}
    [row] = preview["rows"]
    assert row["errors"] == []
    assert [cell["value"] for cell in row["cells"]][1:] == ["wx_wang", "老王", "早上好"]


@pytest.mark.django_db
def test_it_imports_an_xlsx_workbook_with_datetime_and_number_cells(community, hub):
    content = xlsx(
        [
            ["时间", "QQ号", "昵称", "内容"],
            [datetime(2025, 3, 1, 9, 30), 12345678, "小明", "你好"],
            [datetime(2025, 3, 1, 9, 31), 87654321.0, "小红", "早"],
        ]
    )

    job = run(upload(community, hub, content, filename="聊天记录.xlsx"))

    assert job.status == ImportStatus.DONE
    assert (job.accepted, job.duplicates, job.rejected) == (2, 0, 0)
    handles = set(PlatformHandle.objects.filter(community=community).values_list("external_id", flat=True))
    assert {"12345678", "87654321"} <= handles
    first = Event.objects.filter(community=community).order_by("occurred_at").first()
    assert first.occurred_at == datetime(2025, 3, 1, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("filename", "content", "expected"),
    [
        ("chat.pdf", b"%PDF-1.4", "Upload a .csv or .xlsx file"),
        ("chat.xls", b"\xd0\xcf\x11\xe0", "Upload a .csv or .xlsx file"),
        ("chat.csv", b"", "The file is empty"),
        ("chat.csv", b"\n \n\n", "The file is empty"),
        ("chat.csv", "时间,微信号\n".encode(), "no rows below"),
        ("chat.xlsx", b"not a zip at all", "cannot be read"),
        ("chat.csv", b"\x00\x01\xff\xfe\x00garbage", "cannot be read"),
    ],
)
def test_it_refuses_files_it_cannot_use(community, hub, filename, content, expected):
    with pytest.raises(ApplicationError, match=expected) as caught:
        upload(community, hub, content, filename=filename)

    assert caught.value.field == "file"
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_group_of_another_community(community, other_community):
    with pytest.raises(ApplicationError) as caught:
        upload(community, other_community.hub, CHAT_CSV)

    assert caught.value.field == "group"


# --- Mapping and the dry run -----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        ({"user_id": "微信号"}, "Choose a column for: Time"),
        ({**CHAT_MAPPING, "user_name": "微信号"}, "used twice"),
        ({**CHAT_MAPPING, "text": "备注"}, "no column “备注”"),
        ({**CHAT_MAPPING, "colour": "类型"}, "not a field"),
    ],
)
def test_a_mapping_that_does_not_hold_is_refused(community, hub, mapping, expected):
    job = upload(community, hub, CHAT_CSV)

    with pytest.raises(ApplicationError, match=expected) as caught:
        imports.import_preview(job=job, mapping=mapping)
    assert caught.value.field == "mapping"
    with pytest.raises(ApplicationError, match=expected):
        imports.import_start(job=job, mapping=mapping, enqueue=False)
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEW


@pytest.mark.django_db
def test_a_dry_run_writes_nothing(community, hub):
    job = upload(community, hub, CHAT_CSV)
    members_before = Member.objects.count()

    preview = imports.import_preview(job=job, mapping={**CHAT_MAPPING, "value": ""})

    assert [row["row"] for row in preview["rows"]] == [2, 3, 4, 5]
    assert preview["rows_with_errors"] == 0
    assert "value" not in preview["mapping"]
    assert not Event.objects.exists()
    assert Member.objects.count() == members_before
    job.refresh_from_db()
    assert job.mapping == CHAT_MAPPING
    assert job.status == ImportStatus.PREVIEW


@pytest.mark.django_db
def test_row_errors_carry_the_row_numbers_a_spreadsheet_shows(community, hub):
    content = (
        "时间,微信号,内容,类型\n"
        "2025-03-01 09:30,wx_a,好,\n"
        "\n"  # a blank line keeps its number
        "yesterday,wx_b,坏时间,\n"
        "2025-03-01 09:40,,没人,\n"
        "2025-03-01 09:50,wx_c,,跳舞\n"
        "2099-01-01 00:00,wx_d,未来,\n"
    )
    job = upload(community, hub, content)

    preview = imports.import_preview(job=job, mapping=job.mapping)

    assert preview["rows_with_errors"] == 4
    errors = {row["row"]: {error["field"] for error in row["errors"]} for row in preview["rows"]}
    assert errors == {2: set(), 4: {"occurred_at"}, 5: {"user_id"}, 6: {"type"}, 7: {"occurred_at"}}

    job = run(job)

    assert (job.accepted, job.rejected) == (1, 4)
    assert [error["row"] for error in job.errors] == [4, 5, 6, 7]
    assert set(job.errors[0]["fields"]) == {"occurred_at"}


@pytest.mark.django_db
def test_naive_times_read_in_the_community_time_zone(community, hub):
    community.time_zone = "America/New_York"
    community.save(update_fields=["time_zone"])

    run(upload(community, hub, "时间,微信号,内容\n2025-07-01 20:30,wx_a,晚上好\n2025-07-01T20:30:00+08:00,wx_b,早\n"))

    events = {event.member_id: event for event in Event.objects.filter(community=community)}
    times = sorted(event.occurred_at for event in events.values())
    assert times == [datetime(2025, 7, 1, 12, 30, tzinfo=UTC), datetime(2025, 7, 2, 0, 30, tzinfo=UTC)]
    local_days = sorted(str(event.day) for event in events.values())
    assert local_days == ["2025-07-01", "2025-07-01"]


@pytest.mark.django_db
def test_types_values_and_the_default_group(community, hub):
    job = run(upload(community, hub, CHAT_CSV))

    assert (job.accepted, job.rejected) == (4, 0)
    assert set(Event.objects.values_list("kind", flat=True)) == {"message", "check_in", "purchase"}
    assert Event.objects.get(kind="purchase").value == Decimal("12.50")
    assert set(Event.objects.values_list("group_id", flat=True)) == {hub.pk}
    names = set(Member.objects.filter(community=community).values_list("display_name", flat=True))
    assert {"小明", "小红"} <= names


@pytest.mark.django_db
def test_reimporting_a_file_counts_duplicates_and_stores_nothing_new(community, hub):
    run(upload(community, hub, CHAT_CSV))
    events, members = Event.objects.count(), Member.objects.count()

    again = run(upload(community, hub, CHAT_CSV, filename="chat (1).csv"))

    assert again.status == ImportStatus.DONE
    assert (again.accepted, again.duplicates, again.rejected) == (0, 4, 0)
    assert Event.objects.count() == events
    assert Member.objects.count() == members


@pytest.mark.django_db
def test_a_job_runs_once_however_often_it_is_started(community, hub):
    job = upload(community, hub, CHAT_CSV)

    assert imports.import_run(job_id=job.pk) == {"skipped": True}  # still waiting for its mapping
    imports.import_start(job=job, mapping=job.mapping, enqueue=False)
    first = imports.import_run(job_id=job.pk)
    second = imports.import_run(job_id=job.pk)

    assert first["status"] == ImportStatus.DONE
    assert first["accepted"] == 4
    assert second == {"skipped": True}
    job.refresh_from_db()
    assert (job.accepted, job.duplicates, job.processed_rows, job.progress) == (4, 0, 4, 100)
    with pytest.raises(ApplicationError, match="already"):
        imports.import_start(job=job, mapping=job.mapping)


@pytest.mark.django_db
def test_progress_is_saved_after_every_chunk(community, hub, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK", 2)
    job = upload(community, hub, CHAT_CSV)
    imports.import_start(job=job, mapping=job.mapping, enqueue=False)
    seen = []

    def progress(done, total):
        seen.append((done, total, ImportJob.objects.get(pk=job.pk).processed_rows))

    imports.import_run(job_id=job.pk, progress=progress)

    assert seen == [(2, 4, 2), (4, 4, 4)]


@pytest.mark.django_db
def test_an_unreadable_stored_file_fails_the_job_with_a_message(community, hub):
    job = upload(community, hub, CHAT_CSV)
    imports.import_start(job=job, mapping=job.mapping, enqueue=False)
    ImportJob.objects.filter(pk=job.pk).update(filename="chat.xlsx")

    result = imports.import_run(job_id=job.pk)

    job.refresh_from_db()
    assert result["status"] == job.status == ImportStatus.FAILED
    assert "cannot be read" in job.message
    assert job.finished_at is not None


# --- Member lists ------------------------------------------------------------------------------------


MEMBERS_CSV = (
    "姓名,微信号,手机号,邮箱,城市,购买次数,年费会员,标签,阶段\n"
    "张三,wx_zhang,138 1234 1234,ZHANG@example.org,北京,3,是,摄影、旅行，美食,新手入门\n"
    "李四,,13900001111,,上海,0,否,,\n"
    "王五,,,,,,,,\n"
    "赵六,wx_zhao,12,,,,,,\n"
)


@pytest.mark.django_db
def test_a_member_list_creates_members_and_puts_them_in_the_group(community, design):
    job = upload(community, design, MEMBERS_CSV, filename="members.csv", kind=ImportKind.MEMBERS)
    assert job.mapping == {
        "display_name": "姓名",
        "user_id": "微信号",
        "phone": "手机号",
        "email": "邮箱",
        "city": "城市",
        "purchase_count": "购买次数",
        "annual_member": "年费会员",
        "tags": "标签",
        "lifecycle_stage": "阶段",
    }

    job = run(job)

    assert job.status == ImportStatus.DONE
    assert (job.accepted, job.duplicates, job.rejected) == (3, 0, 1)
    assert [(error["row"], set(error["fields"])) for error in job.errors] == [(5, {"phone"})]
    zhang = Member.objects.get(community=community, display_name="张三")
    assert (zhang.phone, zhang.email, zhang.city, zhang.purchase_count, zhang.annual_member) == (
        "13812341234",
        "zhang@example.org",
        "北京",
        3,
        True,
    )
    assert zhang.tags == ["摄影", "旅行", "美食"]
    assert zhang.lifecycle_stage == "newcomer"
    assert zhang.handles.get().external_id == "wx_zhang"
    memberships = Membership.objects.filter(
        group=design, status=MembershipStatus.ACTIVE, source=MembershipSource.IMPORT
    )
    assert set(memberships.values_list("member__display_name", flat=True)) == {"张三", "李四", "王五"}
    design.refresh_from_db()
    assert design.member_count >= 3


@pytest.mark.django_db
def test_reimporting_a_member_list_adds_no_one_twice(community, design):
    run(upload(community, design, MEMBERS_CSV, kind=ImportKind.MEMBERS))
    members = Member.objects.count()

    again = run(upload(community, design, MEMBERS_CSV.replace("北京", "深圳"), kind=ImportKind.MEMBERS))

    # 王五 has nothing to be found by: a name alone is not a person, so he is added again.
    assert Member.objects.count() == members + 1
    assert (again.accepted, again.duplicates, again.rejected) == (1, 2, 1)
    assert Member.objects.get(display_name="张三").city == "深圳"


@pytest.mark.django_db
def test_a_member_list_finds_existing_members_by_phone(community, design):
    existing = MemberFactory(community=community, display_name="李四（旧）", phone="13900001111")

    run(upload(community, design, MEMBERS_CSV, kind=ImportKind.MEMBERS))

    existing.refresh_from_db()
    assert existing.display_name == "李四"
    assert Membership.objects.filter(member=existing, group=design, status=MembershipStatus.ACTIVE).exists()


@pytest.mark.django_db
def test_a_member_list_that_does_not_fit_fails_and_adds_nobody(community, design):
    Group.objects.filter(pk=design.pk).update(capacity=design.member_count + 1)
    members = Member.objects.count()

    job = run(upload(community, design, MEMBERS_CSV, kind=ImportKind.MEMBERS))

    assert job.status == ImportStatus.FAILED
    assert "do not fit" in job.message
    assert Member.objects.count() == members
    assert job.processed_rows == 0


@pytest.mark.django_db
def test_a_group_admin_changes_only_the_details_of_people_in_their_groups(community, design, subtree_admin):
    coders = Group.objects.get(community=community, name="程序员技术群")
    elsewhere = MemberFactory(community=community, display_name="李四", phone="13900001111", group=coders)
    Member.objects.filter(pk=elsewhere.pk).update(city="杭州", purchase_count=7)

    job = run(upload(community, design, MEMBERS_CSV, kind=ImportKind.MEMBERS, by=subtree_admin))

    assert job.status == ImportStatus.DONE
    elsewhere.refresh_from_db()
    assert (elsewhere.city, elsewhere.purchase_count) == ("杭州", 7)
    assert Membership.objects.filter(member=elsewhere, group=design, status=MembershipStatus.ACTIVE).exists()
    zhang = Member.objects.get(community=community, display_name="张三")
    assert zhang.city == "北京"
    assert (zhang.purchase_count, zhang.annual_member) == (0, False)  # standing is for hub managers


# --- Pages ---------------------------------------------------------------------------------------------


def _imports_url(community):
    return reverse("analytics:imports", args=[community.slug])


@pytest.mark.django_db
def test_upload_leads_to_the_mapping_and_the_dry_run(operator_client, community, hub):
    response = operator_client.post(
        _imports_url(community),
        {
            "kind": ImportKind.CHAT_LOG,
            "group": hub.pk,
            "file": SimpleUploadedFile("chat.csv", CHAT_CSV.encode(), content_type="text/csv"),
        },
    )

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("analytics:import_detail", args=[community.slug, job.pk])
    page = operator_client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="map-occurred_at"' in html
    assert '<option value="发送时间" selected>' in html
    assert "请问今天有直播吗？" in html
    assert "Nothing is stored until you start the import." in html
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_the_list_shows_the_communitys_imports(operator_client, community, hub):
    upload(community, hub, CHAT_CSV, filename="三月.csv")

    response = operator_client.get(_imports_url(community))

    assert response.status_code == 200
    assert "三月.csv" in response.content.decode()


@pytest.mark.django_db
def test_an_upload_without_a_file_shows_the_form_again(operator_client, community, hub):
    response = operator_client.post(_imports_url(community), {"kind": ImportKind.CHAT_LOG, "group": hub.pk})

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_an_upload_of_the_wrong_kind_of_file_shows_why(operator_client, community, hub):
    response = operator_client.post(
        _imports_url(community),
        {"kind": ImportKind.CHAT_LOG, "group": hub.pk, "file": SimpleUploadedFile("chat.pdf", b"%PDF")},
    )

    assert response.status_code == 200
    assert "Upload a .csv or .xlsx file" in response.content.decode()


@pytest.mark.django_db
def test_a_new_mapping_is_checked_without_saving(operator_client, community, hub):
    job = upload(community, hub, CHAT_CSV)
    url = reverse("analytics:import_detail", args=[community.slug, job.pk])

    response = operator_client.post(url, {"action": "preview", "map-occurred_at": "发送时间", "map-user_id": "群昵称"})

    assert response.status_code == 200
    assert "小明" in response.content.decode()
    job.refresh_from_db()
    assert job.mapping == CHAT_MAPPING


@pytest.mark.django_db
def test_starting_runs_the_import_and_the_progress_shows_it_done(
    operator_client, community, hub, django_capture_on_commit_callbacks, eager_tasks
):
    job = upload(community, hub, CHAT_CSV)
    url = reverse("analytics:import_detail", args=[community.slug, job.pk])
    fields = {f"map-{target}": column for target, column in CHAT_MAPPING.items()}

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(url, {"action": "start", **fields})

    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert Event.objects.count() == 4
    progress = operator_client.get(reverse("analytics:import_progress", args=[community.slug, job.pk]))
    html = progress.content.decode()
    assert progress.status_code == 200
    assert 'value="4" max="4"' in html
    assert "100%" in html
    assert "every 1s" not in html
    assert "Done" in operator_client.get(url).content.decode()


@pytest.mark.django_db
def test_the_progress_keeps_polling_while_the_import_runs(operator_client, community, hub):
    job = upload(community, hub, CHAT_CSV)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, processed_rows=2)

    response = operator_client.get(reverse("analytics:import_progress", args=[community.slug, job.pk]))

    html = response.content.decode()
    assert 'hx-trigger="every 1s"' in html
    assert 'value="2" max="4"' in html
    assert "50%" in html


@pytest.mark.django_db
def test_a_start_with_a_broken_mapping_explains_and_keeps_the_job_waiting(operator_client, community, hub):
    job = upload(community, hub, CHAT_CSV)
    url = reverse("analytics:import_detail", args=[community.slug, job.pk])

    response = operator_client.post(
        url, {"action": "start", "map-occurred_at": "发送时间", "map-user_id": "微信号", "map-user_name": "微信号"}
    )

    assert response.status_code == 200
    assert "used twice" in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEW


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["import_detail", "import_progress"])
def test_outsiders_get_404(client, outsider, subtree_admin, community, hub, page):
    job = upload(community, hub, CHAT_CSV)
    url = reverse(f"analytics:{page}", args=[community.slug, job.pk])

    for user in (outsider, subtree_admin):  # subtree_admin manages 设计美学交流群, not the hub
        client.force_login(user)
        assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_a_subtree_admin_imports_into_their_own_groups_only(client, subtree_admin, community, hub, design):
    upload(community, hub, CHAT_CSV, filename="hub.csv")
    client.force_login(subtree_admin)

    page = client.get(_imports_url(community)).content.decode()
    refused = client.post(
        _imports_url(community),
        {"kind": ImportKind.CHAT_LOG, "group": hub.pk, "file": SimpleUploadedFile("chat.csv", CHAT_CSV.encode())},
    )

    assert "hub.csv" not in page
    assert f'<option value="{design.pk}"' in page
    assert f'<option value="{hub.pk}"' not in page
    assert refused.status_code == 200
    assert ImportJob.objects.count() == 1


@pytest.mark.django_db
def test_fellow_admins_see_that_a_phone_is_there_not_the_number(client, operator, subtree_admin, community, design):
    job = upload(community, design, MEMBERS_CSV, kind=ImportKind.MEMBERS, by=operator)
    url = reverse("analytics:import_detail", args=[community.slug, job.pk])

    client.force_login(operator)
    assert "13900001111" in client.get(url).content.decode()
    client.force_login(subtree_admin)
    page = client.get(url).content.decode()
    assert "13900001111" not in page
    assert "zhang@example.org" not in page
    assert "•••" in page


# --- The management command --------------------------------------------------------------------------


@pytest.fixture
def chat_file(tmp_path):
    path = tmp_path / "chat.csv"
    path.write_text(CHAT_CSV.replace("2025-03-01 09:30:00", "not a time"), encoding="utf-8")
    return path


@pytest.mark.django_db
def test_the_command_dry_run_shows_rows_and_stores_nothing(community, chat_file):
    out = StringIO()

    call_command("import_activity", str(chat_file), community=community.slug, kind="chat_log", dry_run=True, stdout=out)

    output = out.getvalue()
    assert "occurred_at" in output and "← 发送时间" in output
    assert "row 2: ERROR occurred_at" in output
    assert "row 3: occurred_at=2025-03-01 10:00:00 +0800" in output
    assert "Dry run: 1 of the first 4 rows have errors" in output
    assert not ImportJob.objects.exists()
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_the_command_imports_with_a_progress_bar(community, chat_file, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK", 2)
    out = StringIO()

    call_command(
        "import_activity",
        str(chat_file),
        community=community.slug,
        kind="chat_log",
        map=["value="],
        stdout=out,
    )

    output = out.getvalue()
    assert "[#####.....] 50% 2/4 rows" in output
    assert "[##########] 100% 4/4 rows" in output
    assert "3 stored, 0 already there, 1 rejected" in output
    assert "row 2: occurred_at" in output
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.DONE
    assert "value" not in job.mapping
    assert Event.objects.count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"community": "nowhere", "kind": "chat_log"}, "No such community"),
        ({"community": "internet", "kind": "chat_log", "group": 999_999}, "No group"),
        ({"community": "internet", "kind": "chat_log", "map": ["colour=类型"]}, "not a field"),
        ({"community": "internet", "kind": "chat_log", "map": ["occurred_at"]}, "FIELD=COLUMN"),
        ({"community": "internet", "kind": "chat_log", "map": ["occurred_at=备注"]}, "no column"),
    ],
)
def test_the_command_explains_bad_arguments(community, chat_file, arguments, expected):
    with pytest.raises(CommandError, match=expected):
        call_command("import_activity", str(chat_file), stdout=StringIO(), **arguments)
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_the_command_explains_a_missing_file(community, tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_activity", str(tmp_path / "nope.csv"), community=community.slug, kind="members")
