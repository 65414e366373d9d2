from celery import shared_task

from outbox import services


@shared_task
def deliver_message(message_id: int) -> str:
    """Push one message to its integration's webhook now (queued when the message is)."""
    return services.webhook_deliver(message_id=message_id)


@shared_task
def deliver_due() -> int:
    """The sweep beat runs: every pending message whose time has come, including retries and
    messages whose worker died mid-attempt (their lease ran out). One task per message, so a
    slow webhook holds up only its own messages; the claim makes a duplicate task harmless."""
    due = services.due_for_webhooks()
    for message_id in due:
        deliver_message.delay(message_id)
    return len(due)
