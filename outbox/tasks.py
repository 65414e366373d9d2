import time

from celery import shared_task

from outbox import services

SWEEP_SECONDS = 50  # a sweep hands over to the next one rather than running on for ever


@shared_task
def deliver_message(message_id: int) -> str:
    """Push one message to its integration's webhook now (queued when the message is)."""
    return services.webhook_deliver(message_id=message_id)


@shared_task
def deliver_due(batch: int = 200, threads: int = 8) -> int:
    """The sweep beat runs: every pending message whose time has come, including retries and
    messages whose worker died mid-attempt (their lease ran out), in claimed batches sent over
    parallel connections, for at most SWEEP_SECONDS. Sweeps that overlap take different
    messages."""
    started, delivered = time.monotonic(), 0
    limit = services.batch_limit(batch, threads)
    while time.monotonic() - started < SWEEP_SECONDS:
        outcome = services.webhook_deliver_due(limit=limit, threads=threads)
        delivered += outcome.get("delivered", 0)
        if outcome["claimed"] < limit:
            break
    return delivered
