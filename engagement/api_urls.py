"""API routes of engagement, mounted under /api/v1/. Viewsets go on a SimpleRouter here (the
project's DefaultRouter owns the API root)."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from engagement import api, leaderboard_api

router = SimpleRouter()
router.register("rewards", api.RewardViewSet, basename="reward")
router.register("redemptions", api.RedemptionViewSet, basename="redemption")
router.register("organised-events", api.OrganisedEventViewSet, basename="organisedevent")

_ID = api.ID_PATTERN

urlpatterns: list = [
    re_path(r"^check-ins/$", api.CheckInView.as_view(), name="api-check-ins"),
    re_path(rf"^members/(?P<pk>{_ID})/points/$", api.MemberPointsView.as_view(), name="api-member-points"),
    re_path(
        rf"^communities/(?P<community>{_ID})/points-rules/$", api.PointsRulesView.as_view(), name="api-points-rules"
    ),
    re_path(rf"^communities/(?P<community>{_ID})/levels/$", api.LevelsView.as_view(), name="api-levels"),
    re_path(rf"^groups/(?P<pk>{_ID})/leaderboard/$", leaderboard_api.LeaderboardView.as_view(), name="api-leaderboard"),
    re_path(
        rf"^groups/(?P<pk>{_ID})/sibling-ranking/$",
        leaderboard_api.SiblingRankingView.as_view(),
        name="api-sibling-ranking",
    ),
    *router.urls,
]
