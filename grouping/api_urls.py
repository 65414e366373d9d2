"""API routes of grouping, mounted under /api/v1/. Viewsets go on a SimpleRouter here (the
project's DefaultRouter owns the API root)."""

from rest_framework.routers import SimpleRouter

router = SimpleRouter()

urlpatterns: list = [*router.urls]
