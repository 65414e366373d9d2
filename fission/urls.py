"""Dashboard and public pages of fission."""

from django.urls import path

from fission import views

app_name = "fission"

urlpatterns = [
    path("c/<slug:slug>/growth/fission/", views.placeholder, name="overview"),
]
