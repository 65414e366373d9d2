"""``python manage.py generate_activity``: realistic synthetic activity for a community."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from analytics.services.metrics import metrics_compute
from analytics.services.synthetic import activity_generate
from subgroups.models import Community


class Command(BaseCommand):
    help = (
        "Generate members and events with heavy-tailed activity, members who decay into silence, "
        "joins and leaves; then compute the metrics."
    )

    def add_arguments(self, parser):
        parser.add_argument("--community", required=True, help="The community's slug.")
        parser.add_argument("--members", type=int, default=1000)
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--events", type=int, default=None, help="Aim for about this many events in all.")
        parser.add_argument(
            "--existing", action="store_true", help="Let the community's own members act instead of new ones."
        )
        parser.add_argument("--no-compute", action="store_true", help="Leave the metrics to the next run.")

    def handle(self, *args, **options):
        community = Community.objects.select_related("hub").filter(slug=options["community"]).first()
        if community is None:
            raise CommandError(f"No such community: {options['community']}")
        if not 1 <= options["members"] <= 1_000_000:
            raise CommandError("--members must be between 1 and 1,000,000.")
        if not 1 <= options["days"] <= 730:
            raise CommandError("--days must be between 1 and 730.")
        started = time.perf_counter()
        try:
            made = activity_generate(
                community=community,
                members=options["members"],
                days=options["days"],
                seed=options["seed"],
                use_existing=options["existing"],
                events_target=options["events"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"{made['members']:,} members, {made['events']:,} events in {time.perf_counter() - started:.1f}s"
        )
        if not options["no_compute"]:
            report = metrics_compute(community=community)
            self.stdout.write(f"metrics computed in {report.seconds:.1f}s")
