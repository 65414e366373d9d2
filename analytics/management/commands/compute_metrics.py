"""``python manage.py compute_metrics``: what the beat task runs, on demand."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from analytics.services.metrics import metrics_compute
from subgroups.models import Community


class Command(BaseCommand):
    help = "Compute rollups, group and member metrics, the churn model and alerts."

    def add_arguments(self, parser):
        parser.add_argument("--community", action="append", help="A community's slug (repeatable; default: all).")
        parser.add_argument("--full", action="store_true", help="Recompute every day's rollups, not the dirty ones.")

    def handle(self, *args, **options):
        communities = Community.objects.select_related("hub").order_by("slug")
        if options["community"]:
            communities = communities.filter(slug__in=options["community"])
            missing = set(options["community"]) - set(communities.values_list("slug", flat=True))
            if missing:
                raise CommandError(f"No such community: {', '.join(sorted(missing))}")
        for community in communities:
            self.stdout.write(f"{community.slug}:")

            def progress(label: str, percent: int) -> None:
                bar = "#" * (percent // 10) + "." * (10 - percent // 10)
                self.stdout.write(f"  [{bar}] {percent:3d}% {label}")

            report = metrics_compute(community=community, full=options["full"], progress=progress)
            if report.skipped:
                self.stdout.write("  another run is under way: skipped")
                continue
            churn = report.churn.get("calibration") or {}
            self.stdout.write(
                f"  {report.rollup_days} days rolled up, {report.group_days} group days, {report.members} members, "
                f"{report.alerts_open} open alerts, {report.seconds:.2f}s"
            )
            if churn.get("brier") is not None:
                self.stdout.write(
                    f"  churn model: Brier {churn['brier']:.3f}, calibration error {churn['ece']:.3f}, "
                    f"AUC {churn.get('auc') or 0:.3f} on {churn['count']} members"
                )
