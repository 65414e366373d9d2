import logging

from celery import shared_task
from django.conf import settings

from subgroups import selectors, services

logger = logging.getLogger(__name__)


@shared_task
def check_trees() -> dict:
    """Periodic integrity check of every community tree; repairs damage when allowed."""
    problems = selectors.tree_problems()
    repaired = False
    if problems:
        for problem in problems[:50]:
            logger.error("tree damaged: %s", problem)
        if settings.CANOPY_TREE_AUTOREPAIR:
            services.trees_rebuild()
            repaired = not selectors.tree_problems()
    return {
        "problems": len(problems),
        "communities": sorted({problem.community_id for problem in problems}),
        "repaired": repaired,
    }
