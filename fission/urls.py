"""Dashboard and public pages of fission."""

from django.urls import path

from fission import public, views

app_name = "fission"

urlpatterns = [
    # Public: no login.
    path("i/<str:code>/", public.landing, name="landing"),
    path("i/<str:code>/qr.svg", public.landing_qr, name="landing_qr"),
    path("me/<str:token>/invites/", public.my_invites, name="my_invites"),
    # Dashboard.
    path("c/<slug:slug>/growth/fission/", views.overview, name="overview"),
    path("c/<slug:slug>/growth/fission/credit/", views.credit_now, name="credit"),
    path("c/<slug:slug>/growth/fission/campaigns/", views.campaign_list, name="campaigns"),
    path("c/<slug:slug>/growth/fission/campaigns/<int:pk>/", views.campaign_detail, name="campaign"),
]
