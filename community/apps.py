from django.apps import AppConfig


class CommunityConfig(AppConfig):
    """The project itself, as an app: demo data and other commands that span every layer."""

    name = "community"
    verbose_name = "Canopy"
