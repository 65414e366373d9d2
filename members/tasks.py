from celery import shared_task

from members import services


@shared_task
def expire_roles() -> int:
    """Temporary roles (a rotated guide's month) end on time."""
    return services.roles_expire()
