"""API routes of lifecycle, mounted under /api/v1/. Viewsets go on a SimpleRouter here (the
project's DefaultRouter owns the API root)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from lifecycle import api

router = SimpleRouter()
router.register("lifecycle-rules", api.LifecycleRuleViewSet, basename="lifecyclerule")
router.register("lifecycle-moves", api.LifecycleMoveViewSet, basename="lifecyclemove")
router.register("member-dates", api.MemberDateViewSet, basename="memberdate")

urlpatterns: list = [
    path("communities/<int:community>/lifecycle/run/", api.CommunityRunView.as_view(), name="api-lifecycle-run"),
    *router.urls,
]
