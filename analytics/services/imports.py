"""Imports of chat logs and member lists from CSV or XLSX exports.

An upload is kept whole on its ``ImportJob`` with a column mapping guessed from the header; the
operator checks the mapping against a dry run, then starts it. A worker claims the job, streams
the file in chunks and records its progress after each one, so the page's bar moves and a chunk
that went in stays in if a later one fails.

Re-importing changes nothing: chat-log rows become events whose id is the export's message id,
or one made from the row's content, so ingestion counts them as duplicates; member rows find
their member by platform account, else by phone or e-mail, before a new one is created.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import re
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.models import EventKind, ImportJob, ImportKind, ImportStatus
from analytics.services.ingest import MAX_TEXT, events_ingest, parse_occurred_at
from core.errors import ApplicationError
from members import rules
from members.models import Member, Membership, MembershipStatus
from members.permissions import can, can_edit_standing, groups_where
from members.services.people import members_for_handles, memberships_import
from subgroups.access import Capability
from subgroups.forms import split_words
from subgroups.models import Community, Group, LifecycleStage, Platform

logger = logging.getLogger(__name__)

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
MAX_COLUMNS = 200
CHUNK = 1000
MAX_ERRORS = 500
# A dry run checks this many rows for its error count: every row of a typical export, and a
# few seconds' work at most for the largest.
PREVIEW_CHECK = 10_000
EXTENSIONS = (".csv", ".tsv", ".xlsx")


@dataclass(frozen=True)
class Target:
    """A field an import can fill from one column of the file."""

    name: str
    label: str
    required: bool = False
    help: str = ""


FIELDS: dict[str, list[Target]] = {
    ImportKind.CHAT_LOG: [
        Target(
            "occurred_at",
            gettext_lazy("Time"),
            required=True,
            help=gettext_lazy("A time without a zone reads in the community's time zone."),
        ),
        Target("user_id", gettext_lazy("User id"), required=True),
        Target("user_name", gettext_lazy("Nickname")),
        Target("text", gettext_lazy("Message text")),
        Target("type", gettext_lazy("Type"), help=gettext_lazy("Empty: a message.")),
        Target(
            "event_id",
            gettext_lazy("Message id"),
            help=gettext_lazy("Empty: one is made from the time, the sender and the text."),
        ),
        Target(
            "group_external_id",
            gettext_lazy("Group id on the platform"),
            help=gettext_lazy("Empty: the import's group."),
        ),
        Target("platform", gettext_lazy("Platform"), help=gettext_lazy("Empty: the group's platform.")),
        Target("value", gettext_lazy("Value"), help=gettext_lazy("A number, e.g. a purchase's amount.")),
    ],
    ImportKind.MEMBERS: [
        Target("display_name", gettext_lazy("Name"), required=True),
        Target(
            "user_id",
            gettext_lazy("User id"),
            help=gettext_lazy("The account on the platform: how a row finds its member again."),
        ),
        Target("platform", gettext_lazy("Platform"), help=gettext_lazy("Empty: the group's platform.")),
        Target("phone", gettext_lazy("Phone")),
        Target("email", gettext_lazy("E-mail")),
        Target("city", gettext_lazy("City")),
        Target("purchase_count", gettext_lazy("Purchases")),
        Target("annual_member", gettext_lazy("Annual member"), help=gettext_lazy("是/否, yes/no, 1/0.")),
        Target("tags", gettext_lazy("Tags"), help=gettext_lazy("Separated by commas or 、")),
        Target("lifecycle_stage", gettext_lazy("Lifecycle stage")),
    ],
}

# Header names as exports spell them, compared without case, spaces or punctuation.
_GUESSES: dict[str, dict[str, str]] = {
    ImportKind.CHAT_LOG: {
        "occurred_at": "occurred_at time datetime date timestamp sent_at sent created_at "
        "时间 发送时间 消息时间 日期 日期时间 发言时间 创建时间",
        "user_id": "user_id userid uid wxid wechat_id sender_id member_id account "
        "微信号 微信id 用户id 成员id 发送者id 账号 qq号 qq",
        "user_name": "user_name username nickname name sender sender_name display_name "
        "昵称 群昵称 发送人 发送者 用户名 成员 姓名 发言人",
        "text": "text content message body msg 内容 消息内容 消息 文本 发言内容",
        "type": "type kind event_type msg_type 类型 消息类型 事件类型",
        "event_id": "event_id message_id msgid msg_id id 消息id 事件id",
        "group_external_id": "group_external_id group_id chatroom room_id 群id 群号 群聊id",
        "platform": "platform 平台",
        "value": "value amount price 金额 价值 价格",
    },
    ImportKind.MEMBERS: {
        "display_name": "display_name name nickname full_name 姓名 名字 昵称 群昵称 成员 用户名",
        "user_id": "user_id userid uid wxid wechat_id account 微信号 用户id 成员id 账号 qq号",
        "platform": "platform 平台",
        "phone": "phone mobile tel telephone phone_number 手机 手机号 手机号码 电话 联系电话",
        "email": "email e_mail mail 邮箱 电子邮件 电子邮箱",
        "city": "city 城市 所在城市 地区",
        "purchase_count": "purchase_count purchases orders 购买次数 消费次数 订单数 购买数",
        "annual_member": "annual_member annual 年费会员 年卡会员 年卡 年费",
        "tags": "tags tag labels 标签",
        "lifecycle_stage": "lifecycle_stage stage 阶段 生命周期 学习阶段",
    },
}

_KIND_WORDS = {
    **{kind: kind for kind in EventKind.values},
    # What chat exports call a message's type (文本, 图片, …) is a message to us.
    **dict.fromkeys(
        ("消息", "发言", "文本", "图片", "语音", "视频", "链接", "文件", "表情", "text", "image"), EventKind.MESSAGE
    ),
    **dict.fromkeys(["回复"], EventKind.REPLY),
    **dict.fromkeys(["点赞"], EventKind.REACTION),
    **dict.fromkeys(["签到", "checkin"], EventKind.CHECK_IN),
    **dict.fromkeys(["访问"], EventKind.VISIT),
    **dict.fromkeys(["入群", "加入"], EventKind.JOIN),
    **dict.fromkeys(["退群", "退出"], EventKind.LEAVE),
    **dict.fromkeys(["邀请"], EventKind.INVITE),
    **dict.fromkeys(["购买"], EventKind.PURCHASE),
    **dict.fromkeys(["点击"], EventKind.CLICK),
    **dict.fromkeys(["打开"], EventKind.OPEN),
}
_PLATFORM_WORDS = {
    **{platform: platform for platform in Platform.values},
    **dict.fromkeys(["微信"], Platform.WECHAT),
    **dict.fromkeys(["企业微信", "企微"], Platform.WECOM),
    **dict.fromkeys(["其他"], Platform.OTHER),
}
_STAGE_WORDS = {
    **{stage: stage for stage in LifecycleStage.values},
    **dict.fromkeys(["新手", "新手入门"], LifecycleStage.NEWCOMER),
    **dict.fromkeys(["强化", "强化复习"], LifecycleStage.INTENSIVE),
    **dict.fromkeys(["冲刺", "冲刺押题"], LifecycleStage.SPRINT),
    **dict.fromkeys(["复试调剂", "校友"], LifecycleStage.ALUMNI),
}
_YES = frozenset({"1", "true", "yes", "y", "是", "有", "✓", "√"})
_NO = frozenset({"0", "false", "no", "n", "否", "无", "不是"})
_NOT_A_WORD = re.compile(r"[\s_\-.:：/()（）\[\]【】#*]+")
_CHINESE_DATE = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?")
_SLASHED_DATE = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})")
_CURRENCY = re.compile(r"[¥￥$,，\s]|元$")
# Excel counts days from 1899-12-30; these serials are 1954–2119, a plausible chat history.
_EXCEL_EPOCH = datetime(1899, 12, 30)
_EXCEL_SERIALS = (20_000, 80_000)


def _normalise(name: str) -> str:
    return _NOT_A_WORD.sub("", str(name).lower())


def _unreadable() -> ApplicationError:
    return ApplicationError(
        _("This file cannot be read. Upload a CSV file or an Excel workbook (.xlsx)."), field="file"
    )


# --- Reading files ---------------------------------------------------------------------------


def _extension(filename: str) -> str:
    extension = os.path.splitext(filename or "")[1].lower()
    if extension not in EXTENSIONS:
        raise ApplicationError(
            _("Upload a .csv or .xlsx file (Excel: “Save as” → Excel workbook or CSV)."), field="file"
        )
    return extension


def _decode(content: bytes) -> str:
    """UTF-8 first; Chinese Excel saves CSV as GBK, which gb18030 reads (a superset)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    raise _unreadable()


def _delimiter(text: str) -> str:
    first = next((line for line in io.StringIO(text) if line.strip()), "")
    counts = {delimiter: first.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _csv_rows(content: bytes) -> Iterator[list[Any]]:
    text = _decode(content)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        yield from reader
    except csv.Error as error:
        raise ApplicationError(
            _("Row %(row)d of the file cannot be read: %(error)s") % {"row": reader.line_num, "error": error},
            field="file",
        ) from None


def _xlsx_rows(content: bytes) -> Iterator[list[Any]]:
    import openpyxl  # a second's import, needed only here

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - zipfile, XML and openpyxl errors all mean "not a workbook"
        raise _unreadable() from None
    try:
        if not workbook.worksheets:
            raise _unreadable()
        sheet = workbook.worksheets[0]
        # Some exporters write a wrong size into the sheet; read what is there instead.
        sheet.reset_dimensions()
        for row in sheet.iter_rows(values_only=True):
            yield list(row)
    except ApplicationError:
        raise
    except Exception:  # noqa: BLE001 - a damaged sheet inside a valid zip
        raise _unreadable() from None
    finally:
        workbook.close()


def _blank(cells: list[Any]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _column_names(header: list[Any]) -> list[str]:
    names = [_text(cell) for cell in header]
    while names and not names[-1]:
        names.pop()
    if len(names) > MAX_COLUMNS:
        raise ApplicationError(_("At most %(count)d columns.") % {"count": MAX_COLUMNS}, field="file")
    columns: list[str] = []
    for index, name in enumerate(names):
        # A column without a name goes by its letter, the same in every language.
        name = name[:100] or f"({_column_letter(index)})"
        candidate, copy = name, 1
        while candidate in columns:
            copy += 1
            candidate = f"{name} ({copy})"
        columns.append(candidate)
    return columns


def _table(filename: str, content: bytes) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """The columns, and the data rows as (the row number a spreadsheet shows, cells). The header
    is the first row with anything in it; blank rows are skipped but keep their numbers."""
    extension = _extension(filename)
    if not content:
        raise ApplicationError(_("The file is empty."), field="file")
    rows = enumerate(_xlsx_rows(content) if extension == ".xlsx" else _csv_rows(content), start=1)
    for _number, cells in rows:
        if not _blank(cells):
            columns = _column_names(cells)
            break
    else:
        raise ApplicationError(_("The file is empty: it has no header row."), field="file")

    def records() -> Iterator[tuple[int, list[Any]]]:
        for number, cells in rows:
            if not _blank(cells):
                yield number, cells

    return columns, records()


def _content(job: ImportJob) -> bytes:
    return bytes(job.content)  # PostgreSQL hands back a memoryview


# --- Cells -------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A cell as text. Spreadsheets store ids and phone numbers as numbers: 13812341234.0 is
    the text 13812341234."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value).strip()


def _moment(value: Any, zone: zoneinfo.ZoneInfo) -> datetime:
    """A cell as an aware time; a time without a zone is local to the community. Raises
    ValueError with the message to show."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        parsed = _number_moment(float(value))
    else:
        parsed = _text_moment(_text(value))
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=zone)
    return parsed


def _number_moment(number: float) -> datetime:
    if _EXCEL_SERIALS[0] <= number <= _EXCEL_SERIALS[1]:
        return _EXCEL_EPOCH + timedelta(days=number)
    if 1e9 <= number < 1e11:  # Unix seconds
        return datetime.fromtimestamp(number, tz=UTC)
    if 1e12 <= number < 1e14:  # Unix milliseconds
        return datetime.fromtimestamp(number / 1000, tz=UTC)
    raise ValueError(_("Not a time, e.g. 2026-11-20 09:30."))


def _text_moment(text: str) -> datetime:
    if not text:
        raise ValueError(_("This field is required."))
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return _number_moment(float(text))
    text = _CHINESE_DATE.sub(r"\1-\2-\3", text)
    text = _SLASHED_DATE.sub(r"\1-\2-\3", text)
    text = text.replace("：", ":")
    try:
        parsed = parse_datetime(text) or parse_date(text)
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError(_("Not a time, e.g. 2026-11-20 09:30."))
    return parsed if isinstance(parsed, datetime) else datetime.combine(parsed, time())


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError
    try:
        number = Decimal(str(value)) if isinstance(value, (int, float)) else Decimal(_CURRENCY.sub("", _text(value)))
    except InvalidOperation:
        raise ValueError from None
    if not number.is_finite():
        raise ValueError
    return number


def _whole_number(value: Any) -> int:
    number = _decimal(value)
    if number != number.to_integral_value():
        raise ValueError
    return int(number)


def _word(value: Any, words: dict[str, str]) -> str | None:
    text = _text(value)
    return words.get(text) or words.get(text.lower()) or words.get(_normalise(text))


# --- Mapping ------------------------------------------------------------------------------------


def import_targets(kind: str) -> list[Target]:
    if kind not in FIELDS:
        raise ApplicationError(_("Choose what the file holds."), field="kind")
    return FIELDS[kind]


def import_guess(*, kind: str, columns: list[str]) -> dict[str, str]:
    """The column each target most likely sits in, from the header names: an exact name first,
    then a header that contains a Chinese name (发送时间（北京）)."""
    guesses = {target: {_normalise(word) for word in words.split()} for target, words in _GUESSES[kind].items()}
    mapping: dict[str, str] = {}
    used: set[str] = set()

    def fits(name: str, words: set[str], exact: bool) -> bool:
        if exact:
            return name in words
        return any(len(word) >= 2 and not word.isascii() and word in name for word in words)

    for exact in (True, False):
        for column in columns:
            if column in used:
                continue
            name = _normalise(column)
            for target, words in guesses.items():
                if target not in mapping and fits(name, words, exact):
                    mapping[target] = column
                    used.add(column)
                    break
    return {target.name: mapping[target.name] for target in FIELDS[kind] if target.name in mapping}


def _clean_mapping(job: ImportJob, mapping: dict[str, Any], columns: list[str]) -> dict[str, str]:
    targets = {target.name: target for target in import_targets(job.kind)}
    if not isinstance(mapping, dict):
        raise ApplicationError(_("Map the file's columns."), field="mapping")
    cleaned: dict[str, str] = {}
    for name, column in mapping.items():
        if name not in targets:
            raise ApplicationError(_("“%(field)s” is not a field of this import.") % {"field": name}, field="mapping")
        if column in (None, ""):
            continue
        if column not in columns:
            raise ApplicationError(_("The file has no column “%(column)s”.") % {"column": column}, field="mapping")
        cleaned[name] = column
    for column in set(cleaned.values()):
        fields = [str(targets[name].label) for name, used in cleaned.items() if used == column]
        if len(fields) > 1:
            raise ApplicationError(
                _("The column “%(column)s” is used twice: for %(fields)s.")
                % {"column": column, "fields": ", ".join(fields)},
                field="mapping",
            )
    missing = [str(target.label) for target in targets.values() if target.required and target.name not in cleaned]
    if missing:
        raise ApplicationError(_("Choose a column for: %(fields)s.") % {"fields": ", ".join(missing)}, field="mapping")
    return {target: cleaned[target] for target in targets if target in cleaned}


# --- Rows -----------------------------------------------------------------------------------------


def _import_groups(job: ImportJob) -> list[Group]:
    """The groups a chat log may write events for: those its uploader manages members of. A job
    with no uploader was started from the shell, which may write for the whole community."""
    groups = Group.objects.filter(community=job.community)
    if job.created_by_id is not None:
        groups = groups_where(job.created_by, Capability.MANAGE_MEMBERS).filter(community=job.community)
    return list(groups.select_related("community"))


class _Rows:
    """Turns a row of the file into what the import writes, or the errors that keep it out."""

    def __init__(self, *, job: ImportJob, columns: list[str], mapping: dict[str, str], groups: list[Group]):
        self.kind = job.kind
        self.group = job.group
        self.zone = zoneinfo.ZoneInfo(job.community.time_zone)
        self.now = timezone.now()
        self.positions = {target: columns.index(column) for target, column in mapping.items()}
        self.known_groups = {(group.platform, group.external_id) for group in groups if group.external_id}

    def values(self, cells: list[Any]) -> dict[str, Any]:
        """The mapped cells; an empty cell reads as not given."""
        values = {}
        for target, position in self.positions.items():
            value = cells[position] if position < len(cells) else None
            if isinstance(value, str):
                value = value.strip()
            if value not in (None, ""):
                values[target] = value
        return values

    def parse(self, cells: list[Any]) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
        """(what to write, the values as the preview shows them, errors by field)."""
        values = self.values(cells)
        if self.kind == ImportKind.CHAT_LOG:
            return self._event(values)
        return self._member(values)

    def _event(self, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
        errors: dict[str, str] = {}
        shown: dict[str, str] = {}
        occurred_at = None
        try:
            occurred_at = _moment(values.get("occurred_at"), self.zone)
        except ValueError as error:
            errors["occurred_at"] = str(error)
        else:
            occurred_at, problem = parse_occurred_at(occurred_at, now=self.now)
            if problem:
                errors["occurred_at"] = problem
            else:
                shown["occurred_at"] = occurred_at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S %z")
        user_id = _text(values.get("user_id"))
        if not user_id:
            errors["user_id"] = _("This field is required.")
        elif len(user_id) > 128:
            errors["user_id"] = _("At most %(limit)d characters.") % {"limit": 128}
        user_name = _text(values.get("user_name"))[:100]
        text = _text(values.get("text")) if "text" in values else None
        if text is not None and len(text) > MAX_TEXT:
            errors["text"] = _("At most %(limit)d characters.") % {"limit": MAX_TEXT}
        kind = _word(values["type"], _KIND_WORDS) if "type" in values else EventKind.MESSAGE
        if kind is None:
            errors["type"] = _("Unknown type; one of: %(kinds)s.") % {"kinds": ", ".join(EventKind.values)}
        platform = _word(values["platform"], _PLATFORM_WORDS) if "platform" in values else None
        if "platform" in values and platform is None:
            errors["platform"] = _("Unknown platform; one of: %(platforms)s.") % {
                "platforms": ", ".join(Platform.values)
            }
        group_external_id = _text(values.get("group_external_id"))
        group_platform = platform or self.group.platform
        if group_external_id and (group_platform, group_external_id) not in self.known_groups:
            errors["group_external_id"] = _("None of the groups you manage has this id on this platform.")
        value = None
        if "value" in values:
            try:
                value = _decimal(values["value"])
                if abs(value) >= Decimal("1e10"):
                    raise ValueError
            except ValueError:
                errors["value"] = _("A number below ten billion.")
        event_id = _text(values.get("event_id"))
        if len(event_id) > 128:
            errors["event_id"] = _("At most %(limit)d characters.") % {"limit": 128}
        if errors:
            return {}, shown, errors
        if not event_id:
            # The same row in a later export gets the same id, so importing it again is a no-op.
            # Two identical messages from one person in one second count once.
            key = "\x1f".join(
                (
                    group_platform,
                    group_external_id or str(self.group.pk),
                    user_id,
                    occurred_at.astimezone(UTC).isoformat(),
                    kind,
                    text or "",
                    str(value or ""),
                )
            )
            event_id = "import:" + hashlib.sha1(key.encode()).hexdigest()
        event: dict[str, Any] = {"type": kind, "user_id": user_id, "occurred_at": occurred_at, "event_id": event_id}
        if group_external_id:
            event["group_platform"] = group_platform
            event["group_external_id"] = group_external_id
        else:
            event["group"] = self.group.pk
        if platform:
            event["platform"] = platform
        if user_name:
            event["user_name"] = user_name
        if text is not None:
            event["text"] = text
        if value is not None:
            event["value"] = str(value)
        shown.update(
            user_id=user_id,
            user_name=user_name,
            text=(text or "")[:200],
            type=EventKind(kind).label,
            event_id=_text(values.get("event_id")),
            group_external_id=group_external_id,
            platform=Platform(platform).label if platform else "",
            value=str(value) if value is not None else "",
        )
        return event, shown, {}

    def _member(self, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
        errors: dict[str, str] = {}
        member: dict[str, Any] = {}

        def check(target: str, clean: Callable[[], Any]) -> None:
            try:
                member[target] = clean()
            except ApplicationError as error:
                errors[target] = error.message
            except ValueError as error:
                errors[target] = str(error)

        check("display_name", lambda: rules.clean_name(_text(values.get("display_name"))))
        if "user_id" in values:
            platform = self.group.platform
            if "platform" in values:
                platform = _word(values["platform"], _PLATFORM_WORDS) or _text(values["platform"])
            try:
                member["handle"] = rules.clean_handle(platform, _text(values["user_id"]))
            except ApplicationError as error:
                errors["platform" if error.field == "platform" else "user_id"] = error.message
        for target, clean in (
            ("phone", rules.clean_phone),
            ("email", rules.clean_email),
            ("city", rules.clean_city),
        ):
            if target in values:
                check(target, lambda clean=clean, target=target: clean(_text(values[target])))
        if "purchase_count" in values:
            check("purchase_count", lambda: rules.clean_purchases(_purchases(values["purchase_count"])))
        if "annual_member" in values:
            check("annual_member", lambda: _yes_or_no(values["annual_member"]))
        if "tags" in values:
            check("tags", lambda: rules.clean_tags(split_words(_text(values["tags"]))))
        if "lifecycle_stage" in values:
            check(
                "lifecycle_stage",
                lambda: rules.clean_stage(
                    _word(values["lifecycle_stage"], _STAGE_WORDS) or _text(values["lifecycle_stage"])
                ),
            )
        if errors:
            return {}, {}, errors
        shown = {
            "display_name": member["display_name"],
            "user_id": member["handle"][1] if "handle" in member else "",
            "platform": Platform(member["handle"][0]).label if "handle" in member else "",
            "phone": member.get("phone", ""),
            "email": member.get("email", ""),
            "city": member.get("city", ""),
            "purchase_count": str(member.get("purchase_count", "")),
            "annual_member": ""
            if "annual_member" not in member
            else (_("yes") if member["annual_member"] else _("no")),
            "tags": "、".join(member.get("tags", [])),
            "lifecycle_stage": LifecycleStage(member["lifecycle_stage"]).label if member.get("lifecycle_stage") else "",
        }
        return member, shown, {}


def _purchases(value: Any) -> int:
    try:
        return _whole_number(value)
    except ValueError:
        raise ValueError(_("Purchases are a whole number from 0 to 100000.")) from None


def _yes_or_no(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValueError(_("Yes or no (是/否, 1/0)."))


# --- Upload, preview, start -----------------------------------------------------------------


def import_upload(
    *, community: Community, group: Group, kind: str, filename: str, content: bytes, by=None
) -> ImportJob:
    """Keep an uploaded file as an import waiting for its mapping to be confirmed."""
    import_targets(kind)
    if group.community_id != community.pk:
        raise ApplicationError(_("Choose a group of this community."), field="group")
    if by is not None and not can(by, Capability.MANAGE_MEMBERS, group):
        raise ApplicationError(_("You do not manage the members of this group."), field="group")
    filename = os.path.basename((filename or "").replace("\\", "/"))[-200:]
    if len(content) > MAX_BYTES:
        raise ApplicationError(
            _("The file is larger than %(size)d MB.") % {"size": MAX_BYTES // (1024 * 1024)}, field="file"
        )
    columns, records = _table(filename, content)
    total = 0
    for _record in records:
        total += 1
        if total > MAX_ROWS:
            raise ApplicationError(
                _("The file has more than %(count)s rows: split it.") % {"count": f"{MAX_ROWS:,}"}, field="file"
            )
    if not total:
        raise ApplicationError(_("The file has a header but no rows below it."), field="file")
    return ImportJob.objects.create(
        community=community,
        group=group,
        kind=kind,
        filename=filename,
        content=content,
        mapping=import_guess(kind=kind, columns=columns),
        total_rows=total,
        created_by=by if by is not None and getattr(by, "is_authenticated", False) else None,
    )


def import_columns(job: ImportJob) -> list[str]:
    columns, _records = _table(job.filename, _content(job))
    return columns


def import_preview(*, job: ImportJob, mapping: dict[str, Any], limit: int = 20) -> dict[str, Any]:
    """A dry run: the first ``limit`` rows as the import would read them, with their errors, and
    how many of the first ``PREVIEW_CHECK`` rows have errors. Writes nothing."""
    columns, records = _table(job.filename, _content(job))
    mapping = _clean_mapping(job, mapping, columns)
    parser = _Rows(job=job, columns=columns, mapping=mapping, groups=_import_groups(job))
    targets = [target for target in FIELDS[job.kind] if target.name in mapping]
    labels = {target.name: str(target.label) for target in FIELDS[job.kind]}
    rows: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    checked = with_errors = 0
    for number, cells in islice(records, PREVIEW_CHECK):
        checked += 1
        _parsed, shown, errors = parser.parse(cells)
        described = [
            {"field": name, "label": labels.get(name, name), "message": message} for name, message in errors.items()
        ]
        if errors:
            with_errors += 1
        if len(rows) < limit:
            raw = parser.values(cells)
            rows.append(
                {
                    "row": number,
                    "cells": [
                        {
                            "value": shown.get(target.name, _text(raw.get(target.name))),
                            "error": errors.get(target.name, ""),
                        }
                        for target in targets
                    ],
                    "errors": described,
                }
            )
        elif errors and len(problems) < limit:
            problems.append({"row": number, "errors": described})
    return {
        "mapping": mapping,
        "targets": targets,
        "rows": rows,
        "problems": problems,
        "checked": checked,
        "rows_with_errors": with_errors,
        "total": job.total_rows,
    }


@transaction.atomic
def import_start(*, job: ImportJob, mapping: dict[str, Any], by=None, enqueue: bool = True) -> ImportJob:
    """Confirm the mapping and queue the import. ``enqueue=False`` leaves running it to the
    caller (the management command runs it in its own process)."""
    if job.status != ImportStatus.PREVIEW:
        raise ApplicationError(_("This import has already been started."), field="status")
    if by is not None and not can(by, Capability.MANAGE_MEMBERS, job.group):
        raise ApplicationError(_("You do not manage the members of this group."), field="group")
    mapping = _clean_mapping(job, mapping, import_columns(job))
    started = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.PREVIEW).update(
        mapping=mapping, status=ImportStatus.QUEUED
    )
    if started != 1:
        raise ApplicationError(_("This import has already been started."), field="status")
    job.mapping, job.status = mapping, ImportStatus.QUEUED
    if enqueue:
        from analytics.tasks import run_import  # the tasks module imports this one

        job_id = job.pk
        transaction.on_commit(lambda: run_import.delay(job_id), robust=True)
    return job


# --- Running ----------------------------------------------------------------------------------


@dataclass
class _Counts:
    processed: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, row: int, fields: dict[str, str]) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"row": row, "fields": fields})

    def add(self, other: _Counts) -> None:
        self.processed += other.processed
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.errors.extend(other.errors[: MAX_ERRORS - len(self.errors)])

    def as_fields(self) -> dict[str, Any]:
        return {
            "processed_rows": self.processed,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "errors": self.errors,
        }


def _chunks(records: Iterator[tuple[int, list[Any]]], size: int) -> Iterator[list[tuple[int, list[Any]]]]:
    while chunk := list(islice(records, size)):
        yield chunk


def import_run(*, job_id: int, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run a queued import. A job is claimed by flipping it from queued to running, so a second
    worker (a redelivered task, say) finds nothing to do."""
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=timezone.now(), message=""
    )
    if claimed != 1:
        return {"skipped": True}
    job = ImportJob.objects.select_related("community", "group", "created_by").get(pk=job_id)
    counts = _Counts()
    status, message = ImportStatus.DONE, ""
    try:
        _run(job, counts, progress)
    except ApplicationError as error:
        status, message = ImportStatus.FAILED, error.message
    except Exception:  # one bad file must not take the worker down: the job says it stopped
        logger.exception("Import %s failed after %d rows", job.pk, counts.processed)
        status = ImportStatus.FAILED
        message = _("The import stopped unexpectedly after %(count)d rows. The error was logged.") % {
            "count": counts.processed
        }
    fields = counts.as_fields()
    if status == ImportStatus.DONE:
        fields["total_rows"] = counts.processed
    ImportJob.objects.filter(pk=job.pk).update(status=status, message=message, finished_at=timezone.now(), **fields)
    return {"status": status, "message": message, **{key: value for key, value in fields.items() if key != "errors"}}


def _run(job: ImportJob, counts: _Counts, progress: Callable[[int, int], None] | None) -> None:
    columns, records = _table(job.filename, _content(job))
    mapping = _clean_mapping(job, job.mapping, columns)
    groups = _import_groups(job)
    parser = _Rows(job=job, columns=columns, mapping=mapping, groups=groups)
    access = _MemberAccess(job) if job.kind == ImportKind.MEMBERS else None
    for chunk in _chunks(records, CHUNK):
        # A chunk's counts join the job's once it went in: a chunk that fails leaves no trace.
        done = _Counts(processed=len(chunk))
        if access is None:
            _events_chunk(parser, chunk, done, groups)
        else:
            _members_chunk(job, parser, chunk, done, access)
        counts.add(done)
        ImportJob.objects.filter(pk=job.pk).update(**counts.as_fields())
        if progress is not None:
            progress(counts.processed, max(job.total_rows, counts.processed))


def _events_chunk(parser: _Rows, chunk: list[tuple[int, list[Any]]], counts: _Counts, groups: list[Group]) -> None:
    events: list[dict[str, Any]] = []
    numbers: list[int] = []
    for number, cells in chunk:
        event, _shown, errors = parser.parse(cells)
        if errors:
            counts.reject(number, errors)
            continue
        events.append(event)
        numbers.append(number)
    if not events:
        return
    result = events_ingest(raw_events=events, groups=groups, scan=False)  # history: no recalls, no warnings
    counts.accepted += result.accepted
    counts.duplicates += result.duplicates
    for error in result.errors:
        counts.reject(numbers[error["index"]], error["fields"])


_MEMBER_FIELDS = ("display_name", "phone", "email", "city", "purchase_count", "annual_member", "lifecycle_stage")
_STANDING = frozenset({"purchase_count", "annual_member"})


class _MemberAccess:
    """Whose details a member list may change, by the same rules as the member pages: anyone's
    with manage-members on the hub, else only people in (or new to) the uploader's groups;
    purchases and annual membership only for those who may change standing."""

    def __init__(self, job: ImportJob):
        user, community = job.created_by, job.community
        self.everyone = user is None or (
            community.hub_id is not None and can(user, Capability.MANAGE_MEMBERS, community.hub)
        )
        self.standing = user is None or can_edit_standing(user, community)
        self.managed: QuerySet[Group] | None = (
            None if self.everyone else groups_where(user, Capability.MANAGE_MEMBERS).filter(community=community)
        )

    def editable(self, member_ids: Iterable[int]) -> set[int]:
        member_ids = set(member_ids)
        if self.everyone:
            return member_ids
        active = Membership.objects.filter(member_id__in=member_ids, status=MembershipStatus.ACTIVE)
        in_managed = set(active.filter(group__in=self.managed).values_list("member_id", flat=True))
        in_any = set(active.values_list("member_id", flat=True))
        return in_managed | (member_ids - in_any)


def _members_chunk(
    job: ImportJob, parser: _Rows, chunk: list[tuple[int, list[Any]]], counts: _Counts, access: _MemberAccess
) -> None:
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, cells in chunk:
        values, _shown, errors = parser.parse(cells)
        if errors:
            counts.reject(number, errors)
        else:
            rows.append((number, values))
    if not rows:
        return
    community = job.community
    with transaction.atomic():
        handles = {values["handle"]: values["display_name"] for _number, values in rows if "handle" in values}
        by_handle, _created = members_for_handles(community=community, handles=handles)
        # Without an account, a row is the member with its phone (else e-mail) if there is one.
        loose = [values for _number, values in rows if "handle" not in values]
        by_contact: dict[tuple[str, str], int] = {}
        for name in ("phone", "email"):
            wanted = {values[name] for values in loose if values.get(name)}
            if wanted:
                found = Member.objects.filter(community=community, **{f"{name}__in": wanted}).order_by("-pk")
                by_contact.update(((name, value), pk) for value, pk in found.values_list(name, "pk"))
        row_members: list[tuple[dict[str, Any], int | Member]] = []
        fresh: dict[tuple[str, str], Member] = {}
        new_members: list[Member] = []
        for _number, values in rows:
            if "handle" in values:
                row_members.append((values, by_handle[values["handle"]]))
                continue
            keys = [(name, values[name]) for name in ("phone", "email") if values.get(name)]
            match = next((by_contact[key] for key in keys if key in by_contact), None)
            match = match or next((fresh[key] for key in keys if key in fresh), None)
            if match is None:
                match = Member(
                    community=community,
                    tags=values.get("tags", []),
                    **{name: values[name] for name in _MEMBER_FIELDS if name in values},
                )
                if not access.standing:
                    match.purchase_count, match.annual_member = 0, False
                new_members.append(match)
                fresh.update(dict.fromkeys(keys, match))
            row_members.append((values, match))
        Member.objects.bulk_create(new_members)
        member_ids = {match.pk if isinstance(match, Member) else match for _values, match in row_members}
        already = set(
            Membership.objects.filter(
                group=job.group, status=MembershipStatus.ACTIVE, member_id__in=member_ids
            ).values_list("member_id", flat=True)
        )
        _members_update(row_members, access)
        seen: set[int] = set()
        for _values, match in row_members:
            member_id = match.pk if isinstance(match, Member) else match
            if member_id in seen or member_id in already:
                counts.duplicates += 1
            else:
                counts.accepted += 1
            seen.add(member_id)
        memberships_import(group=job.group, members=Member.objects.filter(pk__in=member_ids).only("pk", "community_id"))


def _members_update(row_members: list[tuple[dict[str, Any], int | Member]], access: _MemberAccess) -> None:
    """Fill in the details of members who were there already. A cell left empty changes nothing;
    tags are added to the member's own."""
    editable = access.editable(match for _values, match in row_members if not isinstance(match, Member))
    members = Member.objects.in_bulk(editable)
    fields = [name for name in _MEMBER_FIELDS if access.standing or name not in _STANDING]
    changed: dict[int, Member] = {}
    touched: set[str] = set()
    for values, match in row_members:
        member = members.get(match) if not isinstance(match, Member) else None
        if member is None:
            continue
        for name in fields:
            if name in values and getattr(member, name) != values[name]:
                setattr(member, name, values[name])
                changed[member.pk] = member
                touched.add(name)
        tags = [tag for tag in values.get("tags", []) if tag not in member.tags]
        if tags:
            member.tags = (member.tags + tags)[:30]
            changed[member.pk] = member
            touched.add("tags")
    if changed:
        now = timezone.now()
        for member in changed.values():
            member.updated_at = now
        Member.objects.bulk_update(list(changed.values()), [*sorted(touched), "updated_at"])
