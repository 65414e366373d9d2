from django.urls import path

from members import public, views

app_name = "members"

urlpatterns = [
    # Public: no login.
    path("apply/<slug:community_slug>/<slug:group_slug>/", public.apply, name="apply"),
    path("applications/<str:token>/", public.application_status, name="application_status"),
    path("invite/<str:token>/", public.invitation, name="invitation"),
    path("j/<slug:slug>/", public.livecode, name="livecode_public"),
    path("j/<slug:slug>/qr.svg", public.livecode_qr, name="livecode_qr"),
    # Dashboard.
    path("c/<slug:slug>/applications/", views.queue, name="queue"),
    path("c/<slug:slug>/applications/bulk-approve/", views.applications_bulk_approve, name="bulk_approve"),
    path("c/<slug:slug>/applications/<int:pk>/", views.application_detail, name="application"),
    path("c/<slug:slug>/applications/<int:pk>/approve/", views.application_approve, name="approve"),
    path("c/<slug:slug>/applications/<int:pk>/reject/", views.application_reject, name="reject"),
    path("c/<slug:slug>/members/", views.member_list, name="members"),
    path("c/<slug:slug>/members/export.csv", views.member_export, name="members_export"),
    path("c/<slug:slug>/members/<int:pk>/", views.member_detail, name="member"),
    path("c/<slug:slug>/members/<int:pk>/memberships/", views.membership_add, name="membership_add"),
    path("c/<slug:slug>/memberships/<int:pk>/end/", views.membership_end, name="membership_end"),
    path("c/<slug:slug>/roles/", views.roles, name="roles"),
    path("c/<slug:slug>/live-codes/", views.livecode_list, name="livecodes"),
    path("c/<slug:slug>/live-codes/<int:pk>/", views.livecode_detail, name="livecode"),
    path("c/<slug:slug>/groups/<int:pk>/questions/", views.questionnaire, name="questionnaire"),
    path(
        "c/<slug:slug>/groups/<int:pk>/questions/<int:question_pk>/delete/",
        views.question_remove,
        name="question_delete",
    ),
    path("c/<slug:slug>/groups/<int:pk>/questions/<int:question_pk>/rules/", views.rule_add, name="rule_add"),
    path("c/<slug:slug>/groups/<int:pk>/rules/<int:rule_pk>/delete/", views.rule_remove, name="rule_delete"),
    path("c/<slug:slug>/groups/<int:pk>/team/", views.team, name="team"),
    path("c/<slug:slug>/groups/<int:pk>/team/assessments/", views.assessment_add, name="assessment_add"),
    path("c/<slug:slug>/groups/<int:pk>/team/rotate/", views.guides_rotate, name="rotate"),
    path("c/<slug:slug>/groups/<int:pk>/team/guide/", views.guide_assign, name="guide_assign"),
]
