"""Dashboard pages of lifecycle."""

from django.urls import path

from lifecycle import views

app_name = "lifecycle"

urlpatterns = [
    path("c/<slug:slug>/growth/lifecycle/", views.rules, name="rules"),
    path("c/<slug:slug>/growth/lifecycle/rules/<int:pk>/", views.rule_detail, name="rule"),
    path("c/<slug:slug>/growth/lifecycle/run/", views.run_now, name="run"),
    path("c/<slug:slug>/growth/lifecycle/history/", views.history, name="history"),
    path("c/<slug:slug>/growth/lifecycle/dates/", views.dates, name="dates"),
]
