"""Dashboard and public pages of grouping."""

from django.urls import path

from grouping import views

app_name = "grouping"

urlpatterns = [
    path("c/<slug:slug>/growth/grouping/", views.placeholder, name="overview"),
]
