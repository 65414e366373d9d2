"""API routes of fission, mounted under /api/v1/. Viewsets go on a SimpleRouter here (the
project's DefaultRouter owns the API root)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from fission import api

router = SimpleRouter()
router.register("campaigns", api.CampaignViewSet, basename="campaign")
router.register("referrals", api.ReferralViewSet, basename="referral")

urlpatterns: list = [
    path("members/<int:pk>/invite-link/", api.InviteLinkView.as_view(), name="api-invite-link"),
    path("fission/coefficients/", api.CoefficientsView.as_view(), name="api-fission-coefficients"),
    *router.urls,
]
