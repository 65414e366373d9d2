from django.urls import path

from recall import public

app_name = "recall_public"

urlpatterns = [
    path("r/<str:token>/", public.open_link, name="open"),
    path("inbox/<str:token>/", public.inbox, name="inbox"),
    path("exit/<str:token>/", public.exit_survey, name="exit"),
]
