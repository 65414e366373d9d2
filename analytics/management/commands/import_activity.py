"""``python manage.py import_activity FILE --community SLUG --kind chat_log|members``: the
dashboard's import, from the shell and in this process, with a text progress bar."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from analytics.models import ImportJob, ImportKind, ImportStatus
from analytics.services import imports
from core.errors import ApplicationError
from subgroups.models import Community, Group

_BAR = 10


def _bar(done: int, total: int) -> str:
    percent = min(100, 100 * done // total) if total else 100
    filled = percent * _BAR // 100
    return f"[{'#' * filled}{'.' * (_BAR - filled)}] {percent}% {done:,}/{total:,} rows"


class Command(BaseCommand):
    help = "Import a chat log or a member list (CSV or XLSX) into a community."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The CSV or XLSX file.")
        parser.add_argument("--community", required=True, help="The community's slug.")
        parser.add_argument("--kind", required=True, choices=ImportKind.values, help="What the file holds.")
        parser.add_argument(
            "--group",
            type=int,
            help="The group's id: chat-log rows that name no group, or the group a member list joins "
            "(default: the hub).",
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="FIELD=COLUMN",
            help="Read FIELD from COLUMN, over the guess (repeatable; FIELD= leaves it out).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Check the rows and store nothing.")
        parser.add_argument("--limit", type=int, default=20, help="Rows to show in a dry run (default 20).")

    def handle(self, *args, **options):
        community = Community.objects.select_related("hub").filter(slug=options["community"]).first()
        if community is None:
            raise CommandError(f"No such community: {options['community']}")
        group = self._group(community, options["group"])
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        if path.stat().st_size > imports.MAX_BYTES:
            raise CommandError(f"{path} is larger than {imports.MAX_BYTES // (1024 * 1024)} MB.")
        overrides = self._overrides(options["kind"], options["map"])
        try:
            # A dry run's job exists only inside this transaction, and a mapping that does not
            # hold leaves no job behind either.
            with transaction.atomic():
                job = self._upload(community, group, options["kind"], path)
                mapping = {**job.mapping, **overrides}
                self._mapping(job, mapping)
                if options["dry_run"]:
                    self._dry_run(job, mapping, max(1, options["limit"]))
                    transaction.set_rollback(True)
                    return
                imports.import_start(job=job, mapping=mapping, enqueue=False)
        except ApplicationError as error:
            raise CommandError(error.message) from None
        self._run(job)

    def _group(self, community: Community, group_id: int | None) -> Group:
        if group_id is None:
            if community.hub is None:
                raise CommandError("The community has no hub: name a group with --group.")
            return community.hub
        group = Group.objects.filter(community=community, pk=group_id).first()
        if group is None:
            raise CommandError(f"No group {group_id} in {community.slug}.")
        return group

    def _overrides(self, kind: str, pairs: list[str]) -> dict[str, str]:
        names = [target.name for target in imports.FIELDS[kind]]
        overrides: dict[str, str] = {}
        for pair in pairs:
            target, equals, column = pair.partition("=")
            target = target.strip()
            if not equals:
                raise CommandError(f"--map takes FIELD=COLUMN, not {pair!r}.")
            if target not in names:
                raise CommandError(f"--map: {target!r} is not a field of a {kind} import; one of: {', '.join(names)}.")
            overrides[target] = column.strip()
        return overrides

    def _upload(self, community: Community, group: Group, kind: str, path: Path) -> ImportJob:
        job = imports.import_upload(
            community=community, group=group, kind=kind, filename=path.name, content=path.read_bytes()
        )
        self.stdout.write(f"{job.filename}: {job.total_rows:,} rows, columns: {', '.join(imports.import_columns(job))}")
        return job

    def _mapping(self, job: ImportJob, mapping: dict[str, str]) -> None:
        self.stdout.write("Mapping:")
        for target in imports.FIELDS[job.kind]:
            column = mapping.get(target.name) or "—"
            required = " (required)" if target.required else ""
            self.stdout.write(f"  {target.name:<18} ← {column}{required}")

    def _dry_run(self, job: ImportJob, mapping: dict[str, str], limit: int) -> None:
        preview = imports.import_preview(job=job, mapping=mapping, limit=limit)
        names = [target.name for target in preview["targets"]]
        for row in preview["rows"]:
            if row["errors"]:
                problems = "; ".join(f"{error['field']}: {error['message']}" for error in row["errors"])
                self.stdout.write(f"  row {row['row']}: ERROR {problems}")
            else:
                values = ", ".join(
                    f"{name}={cell['value']}" for name, cell in zip(names, row["cells"], strict=True) if cell["value"]
                )
                self.stdout.write(f"  row {row['row']}: {values}")
        for row in preview["problems"]:
            problems = "; ".join(f"{error['field']}: {error['message']}" for error in row["errors"])
            self.stdout.write(f"  row {row['row']}: ERROR {problems}")
        self.stdout.write(
            f"Dry run: {preview['rows_with_errors']:,} of the first {preview['checked']:,} rows have errors; "
            "nothing was stored."
        )

    def _run(self, job: ImportJob) -> None:
        def progress(done: int, total: int) -> None:
            self.stdout.write(_bar(done, total))

        imports.import_run(job_id=job.pk, progress=progress)
        job.refresh_from_db()
        self.stdout.write(
            f"{job.get_status_display()}: {job.accepted:,} stored, {job.duplicates:,} already there, "
            f"{job.rejected:,} rejected (import {job.pk})."
        )
        for error in job.errors[:20]:
            problems = "; ".join(f"{name}: {message}" for name, message in error["fields"].items())
            self.stdout.write(f"  row {error['row']}: {problems}")
        if job.status == ImportStatus.FAILED:
            raise CommandError(job.message)
