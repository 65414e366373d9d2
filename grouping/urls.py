"""Dashboard and public pages of grouping."""

from django.urls import path

from grouping import views

app_name = "grouping"

urlpatterns = [
    path("c/<slug:slug>/growth/grouping/", views.overview, name="overview"),
    path("c/<slug:slug>/growth/grouping/survey/", views.survey_edit, name="survey_edit"),
    path("c/<slug:slug>/growth/grouping/threshold/", views.thresholds, name="threshold"),
    path("c/<slug:slug>/growth/grouping/refresh/", views.refresh, name="refresh"),
    path("c/<slug:slug>/growth/grouping/retrain/", views.retrain, name="retrain"),
    path("c/<slug:slug>/growth/grouping/suggestions/<int:pk>/accept/", views.accept, name="accept"),
    path("c/<slug:slug>/growth/grouping/suggestions/<int:pk>/dismiss/", views.dismiss, name="dismiss"),
    # Public: the member's private link.
    path("survey/<str:token>/", views.survey_page, name="survey"),
]
