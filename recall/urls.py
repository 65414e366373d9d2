from django.urls import path

from recall import views

app_name = "recall"

urlpatterns = [
    path("c/<slug:slug>/recall/", views.overview, name="overview"),
    path("c/<slug:slug>/recall/run/", views.run_now, name="run"),
    path("c/<slug:slug>/recall/policies/", views.policy_list, name="policies"),
    path("c/<slug:slug>/recall/policies/<int:pk>/", views.policy_detail, name="policy"),
    path("c/<slug:slug>/recall/stages/<int:pk>/", views.stage_edit, name="stage"),
    path("c/<slug:slug>/recall/coupons/<int:pk>/", views.pool_detail, name="pool"),
    path("c/<slug:slug>/recall/calls/", views.calls, name="calls"),
    path("c/<slug:slug>/recall/calls/<int:pk>/", views.call_record, name="call"),
    path("c/<slug:slug>/recall/attempts/", views.attempts, name="attempts"),
    path("c/<slug:slug>/recall/exits/", views.exits, name="exits"),
]
