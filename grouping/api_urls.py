"""API routes of grouping, mounted under /api/v1/. Viewsets go on a SimpleRouter here (the
project's DefaultRouter owns the API root)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from grouping import api

router = SimpleRouter()
router.register("group-suggestions", api.GroupSuggestionViewSet, basename="groupsuggestion")

urlpatterns: list = [
    path("communities/<int:community>/needs-survey/", api.SurveyView.as_view(), name="api-needs-survey"),
    path("communities/<int:community>/needs-survey/pivot/", api.PivotView.as_view(), name="api-needs-survey-pivot"),
    path("needs-survey/responses/", api.ResponseView.as_view(), name="api-needs-survey-responses"),
    path("communities/<int:community>/recommendations/", api.RunView.as_view(), name="api-recommendation-run"),
    path(
        "communities/<int:community>/recommendations/retrain/",
        api.RetrainView.as_view(),
        name="api-recommendations-retrain",
    ),
    path(
        "members/<int:pk>/recommendations/", api.MemberRecommendationsView.as_view(), name="api-member-recommendations"
    ),
    *router.urls,
]
