from django.urls import path

from analytics import import_views, views

app_name = "analytics"

urlpatterns = [
    path("c/<slug:slug>/analytics/", views.overview, name="overview"),
    path("c/<slug:slug>/analytics/groups/<int:pk>/", views.group_page, name="group"),
    path("c/<slug:slug>/analytics/members/", views.members, name="members"),
    path("c/<slug:slug>/analytics/survey/", views.survey, name="survey"),
    path("c/<slug:slug>/analytics/reports/", views.report_list, name="reports"),
    path("c/<slug:slug>/analytics/reports/generate/", views.report_generate, name="report_generate"),
    path("c/<slug:slug>/analytics/reports/<str:week>/", views.report_detail, name="report"),
    path("c/<slug:slug>/analytics/thresholds/", views.thresholds, name="thresholds"),
    path("c/<slug:slug>/analytics/alerts/<int:pk>/dismiss/", views.alert_dismiss, name="alert_dismiss"),
    path("c/<slug:slug>/analytics/compute/", views.compute_now, name="compute"),
]
urlpatterns += [
    path(f"c/<slug:slug>/analytics/{pattern.pattern}", pattern.callback, name=pattern.name)
    for pattern in import_views.urlpatterns_imports
]
