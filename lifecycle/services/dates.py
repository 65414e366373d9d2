"""Members' own dates (e.g. each member's exam date), set one at a time from the dashboard or a
bot, or many at once from a CSV file."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from lifecycle.models import MemberDate
from lifecycle.services.rules import label_clean
from members.models import Member, PlatformHandle
from subgroups.models import Community, Platform

MAX_IMPORT_BYTES = 2_000_000
MAX_IMPORT_ROWS = 50_000
MAX_ERRORS = 100
# Dates a person can have for a stage of their path: nothing before 1900 or after 2200.
EARLIEST, LATEST = date(1900, 1, 1), date(2200, 12, 31)
_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d")


def date_parse(value, *, field: str = "date") -> date:
    """A date from a form, the API or a spreadsheet cell: 2026-12-20, 2026/12/20, 2026.12.20 or
    20261220."""
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        text = str(value or "").strip()
        for fmt in _FORMATS:
            try:
                value = datetime.strptime(text, fmt).date()
                break
            except ValueError:
                continue
        else:
            raise ApplicationError(_("Enter a date like 2026-12-20."), field=field)
    if not EARLIEST <= value <= LATEST:
        raise ApplicationError(_("Enter a date between 1900 and 2200."), field=field)
    return value


@transaction.atomic
def member_date_set(*, member: Member, label: str, date: date) -> tuple[MemberDate, bool]:
    """Set the member's date for ``label`` (one per label). Returns it and whether it is new."""
    label = label_clean(label)
    value = date_parse(date)
    try:
        with transaction.atomic():
            row, created = MemberDate.objects.update_or_create(
                member=member, label=label, defaults={"date": value, "community_id": member.community_id}
            )
    except IntegrityError:  # set at the same moment by someone else: ours is the later word
        row = MemberDate.objects.get(member=member, label=label)
        row.date, created = value, False
        row.save(update_fields=["date", "updated_at"])
    return row, created


def member_date_remove(*, member_date: MemberDate) -> None:
    member_date.delete()


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)


_MEMBER_COLUMNS = ("member", "member_id", "id")


@transaction.atomic
def member_dates_import(
    *, community: Community, text: str, members: QuerySet[Member], default_label: str = "exam"
) -> ImportReport:
    """CSV with a header row: ``member`` (Canopy's id) or ``platform`` and ``user_id``, then
    ``date`` and optionally ``label`` (default: ``default_label``). ``members`` are those the
    importer may change: any other row is reported as not found. Bad rows are reported by line;
    good ones are kept. A member named twice for one label keeps the last row's date."""
    default_label = label_clean(default_label, field="label")
    if len(text) > MAX_IMPORT_BYTES:
        raise ApplicationError(_("Import at most 2 MB at a time."), field="file")
    lines = text.splitlines()
    reader = csv.reader(lines)
    try:
        header = [cell.strip().lower() for cell in next(reader, [])]
        rows = list(enumerate(reader, 2))
    except csv.Error as error:
        raise ApplicationError(
            _("Line %(line)d is not valid CSV: %(error)s") % {"line": reader.line_num, "error": error}, field="file"
        ) from None
    member_column = next((header.index(name) for name in _MEMBER_COLUMNS if name in header), None)
    by_handle = "platform" in header and "user_id" in header
    if "date" not in header or (member_column is None and not by_handle):
        raise ApplicationError(
            _("The first line names the columns: member (or platform and user_id), date, and optionally label."),
            field="file",
        )
    if len(rows) > MAX_IMPORT_ROWS:
        raise ApplicationError(_("Import at most 50,000 rows at a time."), field="file")

    def cell(row: list[str], name: str) -> str:
        return row[header.index(name)].strip() if name in header and header.index(name) < len(row) else ""

    report = ImportReport()
    errors: list[tuple[int, str]] = []
    parsed: list[tuple[int, tuple[str, str] | int, str, date]] = []
    for number, row in rows:
        if not any(value.strip() for value in row) or row[0].strip().startswith("#"):
            continue
        try:
            raw_member = row[member_column].strip() if member_column is not None and member_column < len(row) else ""
            if raw_member:
                if not raw_member.isdigit() or len(raw_member) > 18:
                    raise ApplicationError(_("The member is Canopy's member id, a number."))
                who: tuple[str, str] | int = int(raw_member)
            elif by_handle and cell(row, "platform") and cell(row, "user_id"):
                platform = cell(row, "platform").lower()
                if platform not in Platform.values:
                    raise ApplicationError(_("Unknown platform “%(platform)s”.") % {"platform": platform[:20]})
                who = (platform, cell(row, "user_id")[:128])
            else:
                raise ApplicationError(_("Name the member: member, or platform and user_id."))
            label = label_clean(cell(row, "label") or default_label)
            value = date_parse(cell(row, "date"))
        except ApplicationError as error:
            errors.append((number, _("Line %(line)d: %(error)s") % {"line": number, "error": error.message}))
            continue
        parsed.append((number, who, label, value))

    ids = {who for _number, who, _label, _value in parsed if isinstance(who, int)}
    handles = {who for _number, who, _label, _value in parsed if isinstance(who, tuple)}
    allowed = members.filter(community=community)
    known_ids = set(allowed.filter(pk__in=ids).values_list("pk", flat=True)) if ids else set()
    by_account: dict[tuple[str, str], int] = {}
    for platform in {platform for platform, _user_id in handles}:
        user_ids = [user_id for handle_platform, user_id in handles if handle_platform == platform]
        for start in range(0, len(user_ids), 2000):
            by_account.update(
                ((platform, external_id), member_id)
                for external_id, member_id in PlatformHandle.objects.filter(
                    community=community,
                    platform=platform,
                    external_id__in=user_ids[start : start + 2000],
                    member__in=allowed,
                ).values_list("external_id", "member_id")
            )
    wanted: dict[tuple[int, str], date] = {}
    for number, who, label, value in parsed:
        member_id = who if isinstance(who, int) and who in known_ids else by_account.get(who)  # type: ignore[arg-type]
        if member_id is None:
            errors.append((number, _("Line %(line)d: no such member.") % {"line": number}))
            continue
        wanted[(member_id, label)] = value
    if wanted:
        existing = set(
            MemberDate.objects.filter(
                member_id__in={member_id for member_id, _label in wanted}, label__in={label for _m, label in wanted}
            ).values_list("member_id", "label")
        )
        report.updated = len(wanted.keys() & existing)
        report.added = len(wanted) - report.updated
        MemberDate.objects.bulk_create(
            [
                MemberDate(community=community, member_id=member_id, label=label, date=value)
                for (member_id, label), value in wanted.items()
            ],
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["member", "label"],
            update_fields=["date", "updated_at"],
        )
    report.errors = [message for _number, message in sorted(errors)[:MAX_ERRORS]]
    return report
