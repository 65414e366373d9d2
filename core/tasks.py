from celery import shared_task

from core.idempotency import purge_expired


@shared_task
def purge_idempotency_keys() -> int:
    """Forget the answers to requests sent with an Idempotency-Key more than 24 hours ago."""
    return purge_expired()
