from django.core.management.base import BaseCommand, CommandError

from subgroups import selectors, services
from subgroups.models import Community


class Command(BaseCommand):
    help = "Check every community tree's stored intervals against its parent links; --fix rebuilds them."

    def add_arguments(self, parser):
        parser.add_argument("--community", help="Only check the community with this slug.")
        parser.add_argument("--fix", action="store_true", help="Rebuild the trees when damage is found.")

    def handle(self, *args, community=None, fix=False, **options):
        community_ids = None
        if community:
            try:
                community_ids = [Community.objects.get(slug=community).pk]
            except Community.DoesNotExist:
                raise CommandError(f"No community with slug {community!r}.") from None

        problems = selectors.tree_problems(community_ids=community_ids)
        if not problems:
            self.stdout.write(self.style.SUCCESS("All trees are consistent."))
            return
        for problem in problems:
            self.stdout.write(self.style.ERROR(str(problem)))
        if not fix:
            raise CommandError(f"{len(problems)} problem(s) found. Run with --fix to rebuild the trees.")
        services.trees_rebuild()
        remaining = selectors.tree_problems(community_ids=community_ids)
        if remaining:
            raise CommandError(
                f"Rebuilt, but {len(remaining)} problem(s) remain: the parent links themselves are wrong."
            )
        self.stdout.write(self.style.SUCCESS(f"Rebuilt. {len(problems)} problem(s) fixed; all trees are consistent."))
