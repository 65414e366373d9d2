"""REST API for content (``/api/v1/``): posts and their two reviews, chat moderation, the word
lists, digests, the calendar, auto-replies and integrations.

Thin views: a serializer parses, one service acts, a serializer answers. Permissions come from
``members.permissions``, as on the pages. What a user may not see answers 404.
"""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from content.models import (
    AllowedTerm,
    AutoReply,
    Digest,
    FlagStatus,
    LexiconEntry,
    MemberFlag,
    ModerationFlag,
    Post,
    PostKind,
    PostSource,
    PostStatus,
    Schedule,
    WordAction,
    WordCategory,
)
from content.serializers import (
    AllowedTermSerializer,
    AutoReplyAnswerSerializer,
    AutoReplyAskSerializer,
    AutoReplySerializer,
    DigestCreateSerializer,
    DigestSerializer,
    DigestUpdateSerializer,
    FeatureSerializer,
    FinalReviewSerializer,
    FirstReviewSerializer,
    HitSerializer,
    ImportReportSerializer,
    ImportSerializer,
    LexiconEntrySerializer,
    LexiconSerializer,
    MemberFlagSerializer,
    MessageScanSerializer,
    ModerationFlagSerializer,
    PostCreateSerializer,
    PostSerializer,
    ResolveSerializer,
    ScanSerializer,
    ScheduleSerializer,
    ScheduleUpdateSerializer,
)
from content.services import autoreply, calendar, digests, lexicon, moderation, posts
from core.errors import ApplicationError
from members.permissions import can, can_final_review, groups_owned, groups_where
from members.services.people import member_by_handle
from outbox import keys as integration_keys
from outbox.models import Integration, IntegrationKey, OutboundMessage
from outbox.services import (
    integration_create,
    integration_delete,
    integration_enable_webhook,
    integration_resend_failed,
    integration_rotate_secret,
    message_resend,
)
from subgroups.access import Capability
from subgroups.models import Community, Group, Platform

ID_PATTERN = r"[0-9]{1,18}"
_MAX_ID = 2**63 - 1


def _require(user, capability: str, group: Group) -> None:
    if not can(user, capability, group):
        raise PermissionDenied()


def _hub_communities(user, capability: str = Capability.VIEW) -> QuerySet[Community]:
    """Communities where the user holds ``capability`` on the hub (community-wide things)."""
    return Community.objects.filter(hub__in=groups_where(user, capability))


class _Scoped:
    """Serializer context: the groups and communities this user may name."""

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        context["visible_groups"] = groups_where(self.request.user, Capability.VIEW)
        context["visible_communities"] = _hub_communities(self.request.user)
        return context

    def _input(self, serializer_class, data) -> dict:
        serializer = serializer_class(data=data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


def _id_filter(field_name: str) -> django_filters.NumberFilter:
    return django_filters.NumberFilter(field_name=field_name, min_value=1, max_value=_MAX_ID)


# --- Posts ----------------------------------------------------------------------------------


class PostFilter(django_filters.FilterSet):
    community = _id_filter("community_id")
    group = _id_filter("group_id")
    status = django_filters.ChoiceFilter(choices=PostStatus.choices)
    kind = django_filters.ChoiceFilter(choices=PostKind.choices)
    source = django_filters.ChoiceFilter(choices=PostSource.choices)
    featured = django_filters.BooleanFilter()

    class Meta:
        model = Post
        fields = ["community", "group", "status", "kind", "source", "featured"]


@extend_schema_view(
    list=extend_schema(summary="Posts in the groups you can see"),
    retrieve=extend_schema(summary="Get a post, with every review step"),
)
class PostViewSet(_Scoped, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Post.objects.none()
    serializer_class = PostSerializer
    filterset_class = PostFilter
    search_fields = ["title"]
    ordering_fields = ["created_at", "published_at"]
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> QuerySet[Post]:
        return (
            Post.objects.filter(group__in=groups_where(self.request.user, Capability.VIEW))
            .select_related("author")
            .prefetch_related("steps__by")
            .order_by("-created_at", "-pk")
        )

    @extend_schema(
        summary="Submit a post",
        description="Needs the manage-content capability on the group. With `author_platform` and "
        "`author_external_id`, an integration posts for the member with that platform account: the post goes "
        "through the word check and both reviews, and `status_url` is the page to send the author. Without them, "
        "staff post an announcement, push or other kind, published at once unless the word check holds it.",
        request=PostCreateSerializer,
        responses={201: PostSerializer},
    )
    def create(self, request: Request) -> Response:
        values = self._input(PostCreateSerializer, request.data)
        group = values["group"]
        # Posting for a member's account, like posting as staff, is for those who manage the
        # group's content (the bot's user is an admin there): a guide can't speak for members.
        _require(request.user, Capability.MANAGE_CONTENT, group)
        if "author_platform" in values:
            author = member_by_handle(
                community=group.community,
                platform=values["author_platform"],
                external_id=values["author_external_id"],
            )
            if author is None:
                raise ApplicationError(
                    "No member of this community has that platform account.", field="author_external_id"
                )
            source = PostSource.MEMBER
        else:
            author, source = None, PostSource.STAFF
        post = posts.post_submit(
            group=group,
            author=author,
            kind=values["kind"],
            title=values["title"],
            body=values["body"],
            source=source,
            by=request.user,
        )
        return Response(PostSerializer(post, context=self.get_serializer_context()).data, status=201)

    def _answer(self, post: Post) -> Response:
        post = self.get_queryset().get(pk=post.pk)
        return Response(PostSerializer(post, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="First review (an admin of the group or above): approve or reject",
        description="Approving sends the post on to an owner's final review. Rejecting needs a note. When "
        "someone else decided first, the answer is 400 and says who.",
        request=FirstReviewSerializer,
        responses={200: PostSerializer},
    )
    @action(detail=True, methods=["post"], url_path="first-review")
    def first_review(self, request: Request, pk: str) -> Response:
        post = self.get_object()
        _require(request.user, Capability.MANAGE_CONTENT, post.group)
        values = self._input(FirstReviewSerializer, request.data)
        return self._answer(posts.post_first_review(post=post, by=request.user, **values))

    @extend_schema(
        summary="Final review (an owner): publish, publish as featured, or reject",
        request=FinalReviewSerializer,
        responses={200: PostSerializer},
    )
    @action(detail=True, methods=["post"], url_path="final-review")
    def final_review(self, request: Request, pk: str) -> Response:
        post = self.get_object()
        if not can_final_review(request.user, post.group):
            raise PermissionDenied()
        values = self._input(FinalReviewSerializer, request.data)
        return self._answer(posts.post_final_review(post=post, by=request.user, **values))

    @extend_schema(
        summary="Feature (or unfeature) a published post for the next digest",
        request=FeatureSerializer,
        responses={200: PostSerializer},
    )
    @action(detail=True, methods=["post"])
    def feature(self, request: Request, pk: str) -> Response:
        post = self.get_object()
        if not can_final_review(request.user, post.group):
            raise PermissionDenied()
        values = self._input(FeatureSerializer, request.data)
        return self._answer(posts.post_feature(post=post, featured=values["featured"], by=request.user))


# --- Chat moderation ------------------------------------------------------------------------


class MessageScanView(APIView):
    api_area = "moderation"
    api_scopes = {"post": "moderation:scan"}

    @extend_schema(
        summary="Scan a chat message (integrations)",
        description="A hit files a moderation flag (once per message, however often it is reported) and answers "
        "200 with it; a block hit also queues an `instruction` in the outbox asking the integration to recall "
        "the message. A clean message answers 204. Needs the manage-content capability on the group.",
        request=MessageScanSerializer,
        responses={200: ModerationFlagSerializer, 204: OpenApiResponse(description="No listed word.")},
        examples=[
            OpenApiExample(
                "A chat message to check",
                request_only=True,
                value={
                    "group": 12,
                    "platform": "wecom",
                    "external_message_id": "17338955",
                    "text": "低息私人贷款，加我微信",
                    "author_external_id": "wmOgQhDgAAx9",
                },
            ),
            OpenApiExample(
                "A blocked word: the flag (the recall instruction waits in the outbox)",
                response_only=True,
                status_codes=["200"],
                value={
                    "id": 87,
                    "community": 3,
                    "group": 12,
                    "platform": "wecom",
                    "external_message_id": "17338955",
                    "author": 1042,
                    "author_external_id": "wmOgQhDgAAx9",
                    "excerpt": "低息私人贷款，加我微信",
                    "hits": [
                        {
                            "word": "私人贷款",
                            "category": "custom",
                            "action": "block",
                            "start": 2,
                            "end": 6,
                            "matched": "私人贷款",
                        }
                    ],
                    "action": "block",
                    "status": "open",
                    "created_at": "2026-12-07T01:35:02Z",
                    "resolved_at": None,
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = MessageScanSerializer(
            data=request.data, context={"visible_groups": groups_where(request.user, Capability.VIEW)}
        )
        serializer.is_valid(raise_exception=True)
        # A hit can recall a chat message and warn its author: for those who moderate the group.
        _require(request.user, Capability.MANAGE_CONTENT, serializer.validated_data["group"])
        flag = moderation.message_scan(**serializer.validated_data)
        if flag is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(ModerationFlagSerializer(flag).data)


class FlagFilter(django_filters.FilterSet):
    group = _id_filter("group_id")
    status = django_filters.ChoiceFilter(choices=FlagStatus.choices)

    class Meta:
        model = ModerationFlag
        fields = ["group", "status"]


class _FlagViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Flags in the groups whose content the user manages; open ones unless ``status`` says."""

    api_area = "moderation"

    model: type[ModerationFlag] | type[MemberFlag]
    filterset_class = FlagFilter
    ordering_fields = ["created_at"]
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        flags = self.model.objects.filter(group__in=groups_where(self.request.user, Capability.MANAGE_CONTENT))
        if self.action == "list" and "status" not in self.request.query_params:
            flags = flags.filter(status=FlagStatus.OPEN)
        return flags.order_by("created_at", "pk")

    def _resolve(self, request: Request) -> Response:
        flag = self.get_object()
        values = ResolveSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        moderation.flag_resolve(flag=flag, by=request.user, note=values.validated_data["note"])
        return Response(self.get_serializer(flag).data)


@extend_schema_view(
    list=extend_schema(summary="Flagged chat messages (open ones unless `status` says otherwise)"),
    retrieve=extend_schema(summary="Get a flagged chat message"),
)
class ModerationFlagViewSet(_FlagViewSet):
    model = ModerationFlag
    queryset = ModerationFlag.objects.none()
    serializer_class = ModerationFlagSerializer

    @extend_schema(summary="Resolve a flag (twice is harmless)", request=ResolveSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str) -> Response:
        return self._resolve(request)


class MemberFlagFilter(FlagFilter):
    member = _id_filter("member_id")

    class Meta:
        model = MemberFlag
        fields = ["group", "status", "member"]


@extend_schema_view(
    list=extend_schema(summary="Members flagged for repeated warnings (open ones unless `status` says)"),
    retrieve=extend_schema(summary="Get a member flag"),
)
class MemberFlagViewSet(_FlagViewSet):
    model = MemberFlag
    queryset = MemberFlag.objects.none()
    serializer_class = MemberFlagSerializer
    filterset_class = MemberFlagFilter

    def get_queryset(self):
        return super().get_queryset().select_related("member")

    @extend_schema(summary="Resolve a member flag, with a note (twice is harmless)", request=ResolveSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str) -> Response:
        return self._resolve(request)


# --- Word lists -----------------------------------------------------------------------------


def _community_for(user, community_id: str, capability: str = Capability.VIEW) -> Community:
    """A community by id, if the user holds ``capability`` on its hub; 404 when they can't even
    see it, 403 when they see it but may not change it."""
    community = _hub_communities(user).filter(pk=community_id).select_related("hub").first()
    if community is None:
        raise NotFound()
    if capability != Capability.VIEW:
        _require(user, capability, community.hub)
    return community


class LexiconView(APIView):
    api_area = "moderation"

    @extend_schema(summary="A community's word-list settings", responses={200: LexiconSerializer})
    def get(self, request: Request, community: str) -> Response:
        target = _community_for(request.user, community)
        return Response(LexiconSerializer(lexicon.lexicon_for(target)).data)

    @extend_schema(
        summary="Use Canopy's default list or not",
        request=LexiconSerializer,
        responses={200: LexiconSerializer},
    )
    def patch(self, request: Request, community: str) -> Response:
        target = _community_for(request.user, community, Capability.MANAGE_CONTENT)
        values = LexiconSerializer(data=request.data, partial=True)
        values.is_valid(raise_exception=True)
        current = lexicon.lexicon_for(target)
        updated = lexicon.lexicon_update(
            community=target, use_default_list=values.validated_data.get("use_default_list", current.use_default_list)
        )
        return Response(LexiconSerializer(updated).data)


class LexiconScanView(APIView):
    api_area = "moderation"
    api_scopes = {"post": "moderation:scan"}

    @extend_schema(
        summary="Test a text against the community's words",
        description="Every hit with its category, action and span in the text you sent.",
        request=ScanSerializer,
        responses={200: HitSerializer(many=True)},
    )
    def post(self, request: Request, community: str) -> Response:
        target = _community_for(request.user, community)
        values = ScanSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        hits = lexicon.text_scan(community=target, text=values.validated_data["text"])
        return Response(HitSerializer(hits, many=True).data)


class LexiconImportView(APIView):
    api_area = "moderation"

    @extend_schema(
        summary="Import words from CSV or TXT",
        description="Good lines are kept; bad ones are listed in `errors` by line number.",
        request=ImportSerializer,
        responses={200: ImportReportSerializer},
    )
    def post(self, request: Request, community: str) -> Response:
        target = _community_for(request.user, community, Capability.MANAGE_CONTENT)
        values = ImportSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        report = lexicon.words_import(
            community=target,
            text=values.validated_data["text"],
            fmt=values.validated_data["file_format"],
            category=values.validated_data["category"],
        )
        return Response(ImportReportSerializer(report).data)


class LexiconExportView(APIView):
    api_area = "moderation"

    @extend_schema(
        summary="Export the community's own words as CSV or TXT",
        parameters=[OpenApiParameter("file_format", enum=["csv", "txt"], default="csv")],
        responses={(200, "text/csv"): OpenApiTypes.STR, (200, "text/plain"): OpenApiTypes.STR},
    )
    def get(self, request: Request, community: str) -> HttpResponse:
        target = _community_for(request.user, community)
        fmt = request.query_params.get("file_format", "csv")
        if fmt not in ("csv", "txt"):
            raise serializers.ValidationError({"file_format": ["Export csv or txt."]})
        content_type = "text/csv" if fmt == "csv" else "text/plain"
        response = HttpResponse(
            lexicon.words_export(community=target, fmt=fmt), content_type=f"{content_type}; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{target.slug}-words.{fmt}"'
        return response


class WordFilter(django_filters.FilterSet):
    community = _id_filter("community_id")
    category = django_filters.ChoiceFilter(choices=WordCategory.choices)
    action = django_filters.ChoiceFilter(choices=WordAction.choices)

    class Meta:
        model = LexiconEntry
        fields = ["community", "category", "action"]


@extend_schema_view(
    list=extend_schema(summary="The communities' own sensitive words"),
    retrieve=extend_schema(summary="Get a word"),
    create=extend_schema(summary="Add a word (or change the category and action of one already listed)"),
    destroy=extend_schema(summary="Remove a word"),
)
class LexiconEntryViewSet(
    _Scoped,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    api_area = "moderation"
    queryset = LexiconEntry.objects.none()
    serializer_class = LexiconEntrySerializer
    filterset_class = WordFilter
    search_fields = ["word"]
    ordering_fields = ["word", "created_at"]
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> QuerySet[LexiconEntry]:
        return LexiconEntry.objects.filter(community__in=_hub_communities(self.request.user)).order_by(
            "category", "word", "pk"
        )

    def create(self, request: Request) -> Response:
        values = self._input(LexiconEntrySerializer, request.data)
        community = _community_for(request.user, values["community"].pk, Capability.MANAGE_CONTENT)
        entry = lexicon.word_add(
            community=community, word=values["word"], category=values["category"], action=values["action"]
        )
        return Response(LexiconEntrySerializer(entry, context=self.get_serializer_context()).data, status=201)

    def destroy(self, request: Request, pk: str) -> Response:
        entry = self.get_object()
        _community_for(request.user, entry.community_id, Capability.MANAGE_CONTENT)
        lexicon.word_remove(entry=entry)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AllowedFilter(django_filters.FilterSet):
    community = _id_filter("community_id")

    class Meta:
        model = AllowedTerm
        fields = ["community"]


@extend_schema_view(
    list=extend_schema(summary="Allowed terms: harmless words that contain a listed one"),
    retrieve=extend_schema(summary="Get an allowed term"),
    create=extend_schema(summary="Allow a term"),
    destroy=extend_schema(summary="Remove an allowed term"),
)
class AllowedTermViewSet(
    _Scoped,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    api_area = "moderation"
    queryset = AllowedTerm.objects.none()
    serializer_class = AllowedTermSerializer
    filterset_class = AllowedFilter
    search_fields = ["term"]
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> QuerySet[AllowedTerm]:
        return AllowedTerm.objects.filter(community__in=_hub_communities(self.request.user)).order_by("term", "pk")

    def create(self, request: Request) -> Response:
        values = self._input(AllowedTermSerializer, request.data)
        community = _community_for(request.user, values["community"].pk, Capability.MANAGE_CONTENT)
        term = lexicon.allowed_add(community=community, term=values["term"])
        return Response(AllowedTermSerializer(term, context=self.get_serializer_context()).data, status=201)

    def destroy(self, request: Request, pk: str) -> Response:
        term = self.get_object()
        _community_for(request.user, term.community_id, Capability.MANAGE_CONTENT)
        lexicon.allowed_remove(allowed=term)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Digests --------------------------------------------------------------------------------


class DigestFilter(django_filters.FilterSet):
    community = _id_filter("community_id")

    class Meta:
        model = Digest
        fields = ["community", "status"]


@extend_schema_view(
    list=extend_schema(summary="Digests of the communities whose hub you can see"),
    retrieve=extend_schema(summary="Get a digest"),
)
class DigestViewSet(_Scoped, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Digest.objects.none()
    serializer_class = DigestSerializer
    filterset_class = DigestFilter
    ordering_fields = ["period_start"]
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Digest]:
        return (
            Digest.objects.filter(community__in=_hub_communities(self.request.user))
            .prefetch_related("posts")
            .order_by("-period_start", "pk")
        )

    def _manage(self, digest_or_community) -> None:
        community = getattr(digest_or_community, "community", digest_or_community)
        _community_for(self.request.user, community.pk, Capability.MANAGE_CONTENT)

    @extend_schema(
        summary="Draft the digest of a period now",
        description="Collects the featured posts published in the sub-groups in [period_start, period_end) that "
        "no digest has yet. Drafting a period twice returns the first draft. 400 when there is nothing to collect.",
        request=DigestCreateSerializer,
        responses={201: DigestSerializer},
    )
    def create(self, request: Request) -> Response:
        values = self._input(DigestCreateSerializer, request.data)
        self._manage(values["community"])
        digest = digests.digest_draft(**values)
        if digest is None:
            raise ApplicationError("No featured posts to collect in that period.", field="period_start")
        return Response(DigestSerializer(digest).data, status=201)

    @extend_schema(summary="Edit a draft", request=DigestUpdateSerializer, responses={200: DigestSerializer})
    def partial_update(self, request: Request, pk: str) -> Response:
        digest = self.get_object()
        self._manage(digest)
        values = self._input(DigestUpdateSerializer, request.data)
        return Response(DigestSerializer(digests.digest_update(digest=digest, **values)).data)

    @extend_schema(
        summary="Publish a draft to the hub (as a digest post, pushed through the outbox)",
        request=None,
        responses={200: PostSerializer},
    )
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: str) -> Response:
        digest = self.get_object()
        self._manage(digest)
        post = digests.digest_publish(digest=digest, by=request.user)
        return Response(PostSerializer(post, context=self.get_serializer_context()).data)


# --- Calendar -------------------------------------------------------------------------------


class ScheduleFilter(django_filters.FilterSet):
    community = _id_filter("community_id")
    group = _id_filter("group_id")

    class Meta:
        model = Schedule
        fields = ["community", "group", "is_active"]


@extend_schema_view(
    list=extend_schema(summary="Scheduled pushes in the groups you can see"),
    retrieve=extend_schema(summary="Get a scheduled push"),
    destroy=extend_schema(summary="Delete a scheduled push"),
)
class ScheduleViewSet(
    _Scoped,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Schedule.objects.none()
    serializer_class = ScheduleSerializer
    filterset_class = ScheduleFilter
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Schedule]:
        return Schedule.objects.filter(group__in=groups_where(self.request.user, Capability.VIEW)).order_by(
            "time", "pk"
        )

    @extend_schema(
        summary="Schedule a recurring push",
        description="For example knowledge every Tuesday and Thursday at 20:00 (`weekdays: [1, 3]`, "
        "`time: 20:00`), in the community's time zone. At the time, the post is created and queued once.",
    )
    def create(self, request: Request) -> Response:
        values = self._input(ScheduleSerializer, request.data)
        _require(request.user, Capability.MANAGE_CONTENT, values["group"])
        schedule = calendar.schedule_create(
            group=values["group"],
            kind=values["kind"],
            title=values["title"],
            body=values["body"],
            weekdays=values["weekdays"],
            at=values["time"],
        )
        return Response(ScheduleSerializer(schedule, context=self.get_serializer_context()).data, status=201)

    @extend_schema(summary="Pause or resume", request=ScheduleUpdateSerializer, responses={200: ScheduleSerializer})
    def partial_update(self, request: Request, pk: str) -> Response:
        schedule = self.get_object()
        _require(request.user, Capability.MANAGE_CONTENT, schedule.group)
        values = self._input(ScheduleUpdateSerializer, request.data)
        schedule = calendar.schedule_update(schedule=schedule, is_active=values["is_active"])
        return Response(ScheduleSerializer(schedule, context=self.get_serializer_context()).data)

    def destroy(self, request: Request, pk: str) -> Response:
        schedule = self.get_object()
        _require(request.user, Capability.MANAGE_CONTENT, schedule.group)
        calendar.schedule_delete(schedule=schedule)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Auto-replies ---------------------------------------------------------------------------


class AutoReplyFilter(django_filters.FilterSet):
    group = _id_filter("group_id")

    class Meta:
        model = AutoReply
        fields = ["group", "match"]


@extend_schema_view(
    list=extend_schema(summary="Keyword auto-reply rules in the groups you can see"),
    retrieve=extend_schema(summary="Get a rule"),
    create=extend_schema(summary="Add a rule"),
    destroy=extend_schema(summary="Delete a rule"),
)
class AutoReplyViewSet(
    _Scoped,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = AutoReply.objects.none()
    serializer_class = AutoReplySerializer
    filterset_class = AutoReplyFilter
    search_fields = ["keyword"]
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> QuerySet[AutoReply]:
        return AutoReply.objects.filter(group__in=groups_where(self.request.user, Capability.VIEW)).order_by(
            "group_id", "-priority", "pk"
        )

    def create(self, request: Request) -> Response:
        values = self._input(AutoReplySerializer, request.data)
        _require(request.user, Capability.MANAGE_CONTENT, values["group"])
        rule = autoreply.auto_reply_create(**values)
        return Response(AutoReplySerializer(rule, context=self.get_serializer_context()).data, status=201)

    def destroy(self, request: Request, pk: str) -> Response:
        rule = self.get_object()
        _require(request.user, Capability.MANAGE_CONTENT, rule.group)
        autoreply.auto_reply_delete(rule=rule)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AutoReplyAskView(APIView):
    @extend_schema(
        summary="The auto-reply for a chat message (bots)",
        description="The group's own rules come first, then its ancestors'; within a group the highest priority "
        "wins. Matching ignores case, width and the spaces and punctuation inside words. 204: no rule matches.",
        request=AutoReplyAskSerializer,
        responses={200: AutoReplyAnswerSerializer, 204: OpenApiResponse(description="No rule matches.")},
        examples=[
            OpenApiExample("A member's question", request_only=True, value={"text": "群规在哪里看？"}),
            OpenApiExample(
                "The matching rule's reply",
                response_only=True,
                status_codes=["200"],
                value={
                    "rule": 5,
                    "reply": "群规在群公告里，也可以看这里：https://canopy.example.com/apply/internet/design/",
                },
            ),
        ],
    )
    def post(self, request: Request, pk: str) -> Response:
        group = get_object_or_404(groups_where(request.user, Capability.VIEW), pk=pk)
        values = AutoReplyAskSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        rule = autoreply.auto_reply_find(group=group, text=values.validated_data["text"])
        if rule is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response({"rule": rule.pk, "reply": rule.reply})


# --- Integrations ---------------------------------------------------------------------------


def _owned_communities(user) -> QuerySet[Community]:
    return Community.objects.filter(hub__in=groups_owned(user))


def _require_owner(user, hub: Group | None) -> None:
    """Integrations and their keys are the owners': 404 for a hub the user cannot see, 403 for
    one they see without owning it."""
    if hub is None or not can(user, Capability.VIEW, hub):
        raise NotFound()
    if not can_final_review(user, hub):
        raise PermissionDenied()


class IntegrationSerializer(serializers.ModelSerializer):
    community = serializers.PrimaryKeyRelatedField(read_only=True)
    platform = serializers.ChoiceField(choices=Platform.choices, allow_blank=True, required=False, default="")
    failing = serializers.SerializerMethodField(help_text="The webhook has failed for 24 hours or more.")

    class Meta:
        model = Integration
        fields = [
            "id",
            "community",
            "name",
            "platform",
            "webhook_url",
            "is_active",
            "webhook_disabled_at",
            "failing_since",
            "failing",
            "previous_secret_until",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "community",
            "is_active",
            "webhook_disabled_at",
            "failing_since",
            "failing",
            "previous_secret_until",
            "created_at",
        ]
        extra_kwargs = {"webhook_url": {"required": False, "default": ""}}

    def get_failing(self, integration: Integration) -> bool:
        return integration.failing_for_a_day()


class IntegrationCreateSerializer(serializers.Serializer):
    community = serializers.IntegerField(min_value=1, max_value=_MAX_ID)
    name = serializers.CharField(max_length=100)
    platform = serializers.ChoiceField(choices=Platform.choices, allow_blank=True, required=False, default="")
    webhook_url = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class IntegrationWithSecretSerializer(IntegrationSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The webhook signing secret (`whsec_…`): shown when created or rotated, never again."
    )

    class Meta(IntegrationSerializer.Meta):
        fields = [*IntegrationSerializer.Meta.fields, "secret"]


class ResendSerializer(serializers.Serializer):
    message = serializers.IntegerField(
        min_value=1, max_value=_MAX_ID, required=False, help_text="One failed message to send again."
    )
    all_failed = serializers.BooleanField(
        default=False, help_text="Every failed message of this integration's community and platform."
    )

    def validate(self, attrs):
        if bool(attrs.get("message")) == bool(attrs.get("all_failed")):
            raise serializers.ValidationError({"message": ["Give either message or all_failed: true."]})
        return attrs


class ResendResultSerializer(serializers.Serializer):
    resent = serializers.IntegerField()


@extend_schema_view(
    list=extend_schema(
        summary="Integrations of the communities you own",
        description="Without their signing secrets: those are shown once, when created or rotated.",
    ),
    retrieve=extend_schema(summary="Get an integration"),
    destroy=extend_schema(summary="Remove an integration"),
)
class IntegrationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Only owners of the hub see integrations: the secret signs what Canopy sends."""

    api_area = "integrations"  # owners only: never an integration key
    queryset = Integration.objects.none()
    serializer_class = IntegrationSerializer
    lookup_value_regex = ID_PATTERN
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Integration]:
        return Integration.objects.filter(community__in=_owned_communities(self.request.user)).order_by("name", "pk")

    @extend_schema(
        summary="Add an integration",
        description="With `webhook_url`, Canopy POSTs each message to it, signed per Standard Webhooks "
        "(`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`) with the `secret` in the answer, "
        "shown this once. Without one, the bot polls `/api/v1/outbox/` and acknowledges each delivery.",
        request=IntegrationCreateSerializer,
        responses={201: IntegrationWithSecretSerializer},
    )
    def create(self, request: Request) -> Response:
        values = IntegrationCreateSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        data = dict(values.validated_data)
        community = Community.objects.filter(pk=data.pop("community")).select_related("hub").first()
        _require_owner(request.user, community.hub if community else None)
        integration = integration_create(community=community, **data)
        return Response(IntegrationWithSecretSerializer(integration).data, status=201)

    def destroy(self, request: Request, pk: str) -> Response:
        integration_delete(integration=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Rotate the webhook signing secret",
        description="A new secret, shown this once. For 24 hours every delivery carries two signatures in "
        "`webhook-signature`, one with each secret, so the receiver can switch without refusing anything.",
        request=None,
        responses={200: IntegrationWithSecretSerializer},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str) -> Response:
        integration = integration_rotate_secret(integration=self.get_object())
        return Response(IntegrationWithSecretSerializer(integration).data)

    @extend_schema(
        summary="Push to a webhook again after it answered 410 Gone",
        description="Pending messages are pushed at once.",
        request=None,
        responses={200: IntegrationSerializer},
    )
    @action(detail=True, methods=["post"], url_path="enable-webhook")
    def enable_webhook(self, request: Request, pk: str) -> Response:
        integration = integration_enable_webhook(integration=self.get_object())
        return Response(IntegrationSerializer(integration).data)

    @extend_schema(
        summary="Send failed messages again",
        description="One failed (or cancelled) message of this integration's community (`message`), or every "
        "failed one it serves (`all_failed: true`), with a fresh set of attempts and the same `webhook-id`.",
        request=ResendSerializer,
        responses={200: ResendResultSerializer},
    )
    @action(detail=True, methods=["post"])
    def resend(self, request: Request, pk: str) -> Response:
        integration = self.get_object()
        values = ResendSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        if values.validated_data.get("all_failed"):
            return Response({"resent": integration_resend_failed(integration=integration)})
        message = OutboundMessage.objects.filter(
            community_id=integration.community_id, pk=values.validated_data["message"]
        ).first()
        if message is None:
            raise NotFound()
        message_resend(message=message)
        return Response({"resent": 1})


class IntegrationKeySerializer(serializers.ModelSerializer):
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=sorted(integration_keys.SCOPES)))
    usable = serializers.SerializerMethodField()
    rotated_to = serializers.SerializerMethodField()

    class Meta:
        model = IntegrationKey
        fields = [
            "id",
            "integration",
            "name",
            "prefix",
            "scopes",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "rotated_from",
            "rotated_to",
            "usable",
            "created_at",
        ]
        read_only_fields = fields

    def get_usable(self, key: IntegrationKey) -> bool:
        return key.is_usable()

    def get_rotated_to(self, key: IntegrationKey) -> int | None:
        successor = getattr(key, "rotated_to", None)
        return successor.pk if successor else None


class IntegrationKeyCreateSerializer(serializers.Serializer):
    integration = serializers.IntegerField(min_value=1, max_value=_MAX_ID)
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(integration_keys.SCOPES)),
        allow_empty=False,
        help_text="What the key may do: " + ", ".join(sorted(integration_keys.SCOPES)) + ".",
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class IssuedKeySerializer(IntegrationKeySerializer):
    secret = serializers.CharField(help_text="The key itself: shown this once, never again.")

    class Meta(IntegrationKeySerializer.Meta):
        fields = [*IntegrationKeySerializer.Meta.fields, "secret"]
        read_only_fields = fields


def _issued(issued: integration_keys.IssuedKey) -> dict:
    data = IntegrationKeySerializer(issued.key).data
    return {**data, "secret": issued.secret}


@extend_schema_view(
    list=extend_schema(
        summary="API keys of your integrations",
        description="Owners of a community see its integrations' keys: name, prefix, scopes, expiry and last use, "
        "never the key itself.",
    ),
    retrieve=extend_schema(summary="Get an API key (without its secret)"),
)
class IntegrationKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Owners create, rotate and revoke the keys their integrations authenticate with."""

    api_area = "integrations"  # a key never manages keys
    queryset = IntegrationKey.objects.none()
    serializer_class = IntegrationKeySerializer
    lookup_value_regex = ID_PATTERN
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[IntegrationKey]:
        keys = IntegrationKey.objects.filter(
            integration__community__in=_owned_communities(self.request.user)
        ).select_related("rotated_to")
        integration = self.request.query_params.get("integration", "")
        if integration.isdigit():
            keys = keys.filter(integration_id=int(integration))
        return keys.order_by("-created_at", "-pk")

    @extend_schema(
        summary="Create an API key",
        description="Owners of the integration's community. The answer holds the key (`secret`), once: send it "
        "as `Authorization: Bearer <secret>`. It acts in the integration's community only, on the operations its "
        "scopes name.",
        request=IntegrationKeyCreateSerializer,
        responses={201: IssuedKeySerializer},
    )
    def create(self, request: Request) -> Response:
        values = IntegrationKeyCreateSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        data = dict(values.validated_data)
        integration = Integration.objects.filter(pk=data.pop("integration")).select_related("community__hub").first()
        _require_owner(request.user, integration.community.hub if integration else None)
        issued = integration_keys.key_create(integration=integration, created_by=request.user, **data)
        return Response(_issued(issued), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Rotate an API key",
        description="A new key with the same name, scopes and expiry, shown once. The old key keeps working for "
        "the rotation grace period (24 hours unless the server says otherwise), then stops.",
        request=None,
        responses={201: IssuedKeySerializer},
    )
    @action(detail=True, methods=["post"])
    def rotate(self, request: Request, pk: str) -> Response:
        issued = integration_keys.key_rotate(key=self.get_object(), created_by=request.user)
        return Response(_issued(issued), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Revoke an API key",
        description="The key stops working at once. Revoking twice is harmless.",
        request=None,
        responses={200: IntegrationKeySerializer},
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        key = integration_keys.key_revoke(key=self.get_object())
        return Response(IntegrationKeySerializer(key).data)


# --- Group settings -------------------------------------------------------------------------


class ContentSettingsSerializer(serializers.Serializer):
    skip_review = serializers.BooleanField(help_text="Publish posts the word check passes without review.")


class ContentSettingsView(APIView):
    """Whether a group's posts skip review. Anyone who sees the group reads it; owners change it."""

    @extend_schema(summary="A group's review setting", responses={200: ContentSettingsSerializer})
    def get(self, request: Request, pk: str) -> Response:
        group = get_object_or_404(groups_where(request.user, Capability.VIEW), pk=pk)
        return Response({"skip_review": posts.skips_review(group)})

    @extend_schema(
        summary="Change a group's review setting (owners)",
        request=ContentSettingsSerializer,
        responses={200: ContentSettingsSerializer},
    )
    def patch(self, request: Request, pk: str) -> Response:
        group = get_object_or_404(groups_where(request.user, Capability.VIEW), pk=pk)
        if not can_final_review(request.user, group):
            raise PermissionDenied()
        values = ContentSettingsSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        settings = posts.content_settings_update(group=group, skip_review=values.validated_data["skip_review"])
        return Response({"skip_review": settings.skip_review})
