from django.urls import path

from content import member, views

app_name = "content"

urlpatterns = [
    path("me/posts/", member.my_posts, name="my_posts"),
    path("posts/<str:token>/", member.post_status, name="post_status"),
    path("c/<slug:slug>/content/", views.review, name="review"),
    path("c/<slug:slug>/content/posts/", views.post_list, name="posts"),
    path("c/<slug:slug>/content/posts/new/", views.post_new, name="post_new"),
    path("c/<slug:slug>/content/posts/<int:pk>/", views.post_detail, name="post"),
    path("c/<slug:slug>/content/posts/<int:pk>/first-review/", views.first_review, name="first_review"),
    path("c/<slug:slug>/content/posts/<int:pk>/final-review/", views.final_review, name="final_review"),
    path("c/<slug:slug>/content/flags/", views.flags, name="flags"),
    path("c/<slug:slug>/content/flags/<str:kind>/<int:pk>/resolve/", views.flag_resolve, name="flag_resolve"),
    path("c/<slug:slug>/content/words/", views.words, name="words"),
    path("c/<slug:slug>/content/words/export/", views.words_export, name="words_export"),
    path("c/<slug:slug>/content/words/scan/", views.words_scan, name="words_scan"),
    path("c/<slug:slug>/content/digests/", views.digest_list, name="digests"),
    path("c/<slug:slug>/content/digests/<int:pk>/", views.digest_detail, name="digest"),
    path("c/<slug:slug>/content/calendar/", views.calendar_page, name="calendar"),
    path("c/<slug:slug>/content/auto-replies/", views.auto_replies, name="auto_replies"),
    path("c/<slug:slug>/content/integrations/", views.integrations, name="integrations"),
    path("c/<slug:slug>/groups/<int:pk>/welcome/", views.welcome, name="welcome"),
    path("c/<slug:slug>/groups/<int:pk>/review-setting/", views.review_setting, name="review_setting"),
]
