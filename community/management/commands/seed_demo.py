from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from community.demo import DEMO_OPERATOR, DEMO_SUPERUSER, seed_demo


class Command(BaseCommand):
    help = (
        "Load the four demo communities of the source article, with members, a team, a questionnaire, "
        "applications to review and a live code (idempotent: a second run changes nothing)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--with-logins",
            action="store_true",
            help="Also create the demo logins (always on when DEBUG is on; never do this on a public server).",
        )
        parser.add_argument("--reset", action="store_true", help="Delete the demo communities first and rebuild them.")
        parser.add_argument(
            "--without-activity",
            action="store_true",
            help="Skip the 60 days of generated activity and the numbers drawn from it (faster).",
        )

    def handle(self, *args, with_logins=False, reset=False, without_activity=False, **options):
        with_logins = with_logins or settings.DEBUG
        report = seed_demo(with_logins=with_logins, reset=reset, activity=not without_activity)
        self.stdout.write(
            self.style.SUCCESS(
                "Demo ready: created {communities} communities, {groups} groups, {members} members, {users} users "
                "(0 means it was already there).".format(**report)
            )
        )
        recall = report["recall"]
        if recall.get("days"):
            line = _(
                "Recall, replayed over the generated activity: {sent} sent, {delivered} delivered, {opened} opened, "
                "{responded} responded, {recovered} recovered; {calls} calls recorded, {exit_surveys} exit "
                "questionnaires ({surveys_answered} answered)."
            )
            self.stdout.write("  " + line.format(**{key: f"{value:,}" for key, value in recall.items()}))
        for line in report["growth"]:
            self.stdout.write(f"  {line}")
        if with_logins:
            self.stdout.write(f"  operator login: {DEMO_OPERATOR[0]} / {DEMO_OPERATOR[1]}")
            self.stdout.write(f"  admin login:    {DEMO_SUPERUSER[0]} / {DEMO_SUPERUSER[1]}  (Django admin at /admin/)")
