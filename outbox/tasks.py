from celery import shared_task

from outbox import services


@shared_task
def deliver_message(message_id: int) -> str:
    """Push one message to its integration's webhook now (queued when the message is)."""
    return services.webhook_deliver(message_id=message_id)


@shared_task
def deliver_due() -> dict:
    """The sweep beat runs: every pending message whose time has come, including retries and
    messages whose worker died mid-attempt (their lease ran out)."""
    outcomes: dict[str, int] = {}
    for message_id in services.due_for_webhooks():
        outcome = services.webhook_deliver(message_id=message_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
