from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from analytics import api as analytics_api
from community import views
from content import api as content_api
from members import api as members_api
from outbox import api as outbox_api
from recall import api as recall_api
from subgroups import api as subgroups_api
from subgroups import views as subgroups_views

router = DefaultRouter()
router.register("communities", subgroups_api.CommunityViewSet, basename="community")
router.register("groups", subgroups_api.GroupViewSet, basename="group")
router.register("members", members_api.MemberViewSet, basename="member")
router.register("memberships", members_api.MembershipViewSet, basename="membership")
router.register("applications", members_api.ApplicationViewSet, basename="application")
router.register("live-codes", members_api.LiveCodeViewSet, basename="livecode")
router.register("posts", content_api.PostViewSet, basename="post")
router.register("moderation-flags", content_api.ModerationFlagViewSet, basename="moderationflag")
router.register("member-flags", content_api.MemberFlagViewSet, basename="memberflag")
router.register("lexicon-words", content_api.LexiconEntryViewSet, basename="lexiconentry")
router.register("allowed-terms", content_api.AllowedTermViewSet, basename="allowedterm")
router.register("digests", content_api.DigestViewSet, basename="digest")
router.register("schedules", content_api.ScheduleViewSet, basename="schedule")
router.register("auto-replies", content_api.AutoReplyViewSet, basename="autoreply")
router.register("integrations", content_api.IntegrationViewSet, basename="integration")
router.register("integration-keys", content_api.IntegrationKeyViewSet, basename="integrationkey")
router.register("outbox", outbox_api.OutboxViewSet, basename="outbox")
router.register("recall/policies", recall_api.RecallPolicyViewSet, basename="recallpolicy")
router.register("recall/stages", recall_api.RecallStageViewSet, basename="recallstage")
router.register("recall/attempts", recall_api.RecallAttemptViewSet, basename="recallattempt")
router.register("exit-surveys", recall_api.ExitSurveyViewSet, basename="exitsurvey")

public_api = [
    path("public/applications/", members_api.ApplicationSubmitView.as_view(), name="api-apply"),
    path(
        "public/groups/<slug:community>/<slug:group>/questions/",
        members_api.QuestionnaireView.as_view(),
        name="api-questionnaire",
    ),
    path("invitations/accept/", members_api.InvitationAcceptView.as_view(), name="api-invitation-accept"),
    path("live-codes/<slug:slug>/resolve/", members_api.LiveCodeResolveView.as_view(), name="api-livecode-resolve"),
    path("moderation/scan/", content_api.MessageScanView.as_view(), name="api-moderation-scan"),
    path("events/", analytics_api.EventsView.as_view(), name="api-events"),
    path("recall/funnel/", recall_api.FunnelView.as_view(), name="api-recall-funnel"),
    path("recall/opt-outs/", recall_api.OptOutView.as_view(), name="api-recall-opt-outs"),
    path("exit-surveys/report/", recall_api.ExitReportView.as_view(), name="api-exit-report"),
    path("groups/<int:pk>/metrics/", analytics_api.GroupMetricsView.as_view(), name="api-group-metrics"),
    path("groups/<int:pk>/auto-reply/", content_api.AutoReplyAskView.as_view(), name="api-auto-reply"),
    path("groups/<int:pk>/content-settings/", content_api.ContentSettingsView.as_view(), name="api-content-settings"),
    path("communities/<int:community>/lexicon/", content_api.LexiconView.as_view(), name="api-lexicon"),
    path("communities/<int:community>/lexicon/scan/", content_api.LexiconScanView.as_view(), name="api-lexicon-scan"),
    path(
        "communities/<int:community>/lexicon/import/",
        content_api.LexiconImportView.as_view(),
        name="api-lexicon-import",
    ),
    path(
        "communities/<int:community>/lexicon/export/",
        content_api.LexiconExportView.as_view(),
        name="api-lexicon-export",
    ),
]

urlpatterns = [
    path("", subgroups_views.home, name="home"),
    path("", include("subgroups.urls")),
    path("", include("members.urls")),
    path("", include("content.urls")),
    path("", include("analytics.urls")),
    path("", include("recall.urls")),
    path("", include("recall.public_urls")),
    path("", include("engagement.urls")),
    path("", include("fission.urls")),
    path("", include("programme.urls")),
    path("", include("grouping.urls")),
    path("", include("lifecycle.urls")),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(public_api)),
    path("api/v1/", include(router.urls)),
    path("api/v1/", include("engagement.api_urls")),
    path("api/v1/", include("fission.api_urls")),
    path("api/v1/", include("programme.api_urls")),
    path("api/v1/", include("grouping.api_urls")),
    path("api/v1/", include("lifecycle.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
]

handler404 = "community.views.not_found"
handler500 = "community.views.server_error"
