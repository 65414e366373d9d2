"""Dashboard and public pages of programme."""

from django.urls import path

from programme import views

app_name = "programme"

urlpatterns = [
    path("c/<slug:slug>/growth/admins/", views.overview, name="overview"),
    path("c/<slug:slug>/growth/admins/groups/<int:pk>/rounds/", views.round_create, name="round_create"),
    path("c/<slug:slug>/growth/admins/groups/<int:pk>/assessments/", views.assess, name="assess"),
    path("c/<slug:slug>/growth/admins/groups/<int:pk>/rotation/", views.rotate, name="rotate"),
    path("c/<slug:slug>/growth/admins/rounds/<int:pk>/close/", views.round_close, name="round_close"),
    path("c/<slug:slug>/growth/admins/nominations/<int:pk>/appoint/", views.appoint, name="appoint"),
    path("vote/<str:token>/", views.vote, name="vote"),
]
