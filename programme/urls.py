"""Dashboard and public pages of programme."""

from django.urls import path

from programme import views

app_name = "programme"

urlpatterns = [
    path("c/<slug:slug>/growth/admins/", views.placeholder, name="overview"),
]
