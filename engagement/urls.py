"""Dashboard and public pages of engagement."""

from django.urls import path

from engagement import leaderboard_views, views

app_name = "engagement"

urlpatterns = [
    path("c/<slug:slug>/growth/", views.placeholder, name="overview"),
    path("c/<slug:slug>/growth/leaderboards/", leaderboard_views.leaderboards, name="leaderboards"),
    path("c/<slug:slug>/growth/shop/", views.placeholder, name="shop"),
    path("c/<slug:slug>/growth/rules/", views.placeholder, name="rules"),
]
