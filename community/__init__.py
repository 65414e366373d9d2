"""The Canopy project: settings, URLs and the Celery app."""

from community.celery import app as celery_app

__all__ = ("celery_app",)
