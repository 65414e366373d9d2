"""Dashboard and public pages of lifecycle."""

from django.urls import path

from lifecycle import views

app_name = "lifecycle"

urlpatterns = [
    path("c/<slug:slug>/growth/lifecycle/", views.placeholder, name="rules"),
]
