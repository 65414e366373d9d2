from celery import shared_task

from analytics.services import imports, metrics, reports
from subgroups.models import Community


@shared_task
def compute_all() -> int:
    """Beat's entry point: one metric run per community, each its own task."""
    community_ids = list(Community.objects.values_list("pk", flat=True))
    for community_id in community_ids:
        compute_community.delay(community_id)
    return len(community_ids)


@shared_task
def compute_community(community_id: int, full: bool = False) -> dict:
    community = Community.objects.select_related("hub").filter(pk=community_id).first()
    if community is None:
        return {"skipped": True}
    return metrics.metrics_compute(community=community, full=full).as_dict()


@shared_task
def weekly_reports() -> int:
    """Beat, Monday: last week's health report for every community (an upsert per week)."""
    return reports.health_reports_generate()


@shared_task
def run_import(job_id: int) -> dict:
    return imports.import_run(job_id=job_id)
