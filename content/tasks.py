from celery import shared_task

from content.services import calendar, digests


@shared_task
def run_calendar() -> int:
    """Create the content calendar's due pushes (idempotent: once per schedule and day)."""
    return calendar.calendar_run()


@shared_task
def draft_digests() -> int:
    """Draft last week's digest of featured posts for every community's hub."""
    return digests.digests_draft_last_week()
