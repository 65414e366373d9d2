"""The Celery app. It reads every ``CELERY_*`` Django setting: the Redis broker when
``REDIS_URL`` is set, otherwise tasks run in-process (eager) so development needs no broker."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "community.settings")

app = Celery("community")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
