from django.apps import AppConfig


def _superusers_only(request) -> bool:
    # The admin shows every community at once; scoped views are the dashboard's job.
    return request.user.is_active and request.user.is_superuser


class CommunityConfig(AppConfig):
    """The project itself, as an app: demo data, the admin site and other pieces that span
    every layer."""

    name = "community"
    verbose_name = "Canopy"

    def ready(self) -> None:
        from django.contrib import admin

        admin.site.site_header = "Canopy admin"
        admin.site.site_title = "Canopy admin"
        admin.site.has_permission = _superusers_only
