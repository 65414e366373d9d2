"""Dashboard and public pages of engagement."""

from django.urls import path

from engagement import leaderboard_views, public, views

app_name = "engagement"

urlpatterns = [
    path("c/<slug:slug>/growth/", views.overview, name="overview"),
    path("c/<slug:slug>/growth/sweep/", views.sweep_now, name="sweep"),
    path("c/<slug:slug>/growth/leaderboards/", leaderboard_views.leaderboards, name="leaderboards"),
    path("c/<slug:slug>/growth/shop/", views.shop, name="shop"),
    path("c/<slug:slug>/growth/shop/<int:pk>/", views.item_edit, name="item"),
    path("c/<slug:slug>/growth/redemptions/<int:pk>/", views.redemption_action, name="redemption"),
    path("c/<slug:slug>/growth/rules/", views.rules, name="rules"),
    path("c/<slug:slug>/growth/members/", views.member_list, name="members"),
    path("c/<slug:slug>/growth/members/<int:pk>/", views.member_detail, name="member"),
    path("c/<slug:slug>/growth/events/", views.events, name="events"),
    path("me/<str:token>/", public.me, name="me"),
]
