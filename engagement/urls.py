"""Dashboard and public pages of engagement."""

from django.urls import path

from engagement import views

app_name = "engagement"

urlpatterns = [
    path("c/<slug:slug>/growth/", views.placeholder, name="overview"),
    path("c/<slug:slug>/growth/leaderboards/", views.placeholder, name="leaderboards"),
    path("c/<slug:slug>/growth/shop/", views.placeholder, name="shop"),
    path("c/<slug:slug>/growth/rules/", views.placeholder, name="rules"),
]
