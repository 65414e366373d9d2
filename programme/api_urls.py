"""API routes of programme, mounted under /api/v1/. Viewsets go on a SimpleRouter here (the
project's DefaultRouter owns the API root)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from programme import api

router = SimpleRouter()
router.register("voting-rounds", api.VotingRoundViewSet, basename="votinground")

urlpatterns: list = [
    path("groups/<int:pk>/team-shape/", api.TeamShapeView.as_view(), name="api-team-shape"),
    path("groups/<int:pk>/online-hours/", api.OnlineHoursView.as_view(), name="api-online-hours"),
    path("groups/<int:pk>/assessments/compute/", api.AssessmentsComputeView.as_view(), name="api-assessments-compute"),
    path("groups/<int:pk>/rotation/", api.RotationView.as_view(), name="api-rotation"),
    *router.urls,
]
