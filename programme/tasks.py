"""The admin programme's Celery tasks: thin wrappers around the services."""

from celery import shared_task

from programme.services import assessments_compute_all, rounds_close_due


@shared_task
def assess_last_month() -> int:
    """Beat, on the 1st and 2nd of each month: every group's staff assessed on the month that
    ended in its community's time zone (an upsert, so the second day's run changes nothing
    where the month had already ended on the first)."""
    return assessments_compute_all()


@shared_task
def close_due_rounds() -> int:
    """Beat, hourly: rounds past their closing time stop taking votes."""
    return rounds_close_due()
