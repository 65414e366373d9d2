"""What the content API reads and answers. Validation of substance stays in the services."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from content.models import (
    FINAL_DECISIONS,
    SCHEDULE_KINDS,
    AllowedTerm,
    AutoReply,
    Digest,
    Lexicon,
    LexiconEntry,
    MatchMode,
    MemberFlag,
    ModerationFlag,
    Post,
    PostKind,
    ReviewStep,
    Schedule,
    WordAction,
    WordCategory,
)
from subgroups.models import Platform
from subgroups.serializers import ScopedGroupField

_MAX_ID = 2**63 - 1


@extend_schema_field(OpenApiTypes.INT)
class ScopedCommunityField(serializers.PrimaryKeyRelatedField):
    """A community id, looked up only among those the user may see."""

    def get_queryset(self):
        return self.context["visible_communities"]

    def to_internal_value(self, data):
        if isinstance(data, bool) or (isinstance(data, int) and not 0 < data <= _MAX_ID):
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


# --- Words ----------------------------------------------------------------------------------


class HitSerializer(serializers.Serializer):
    word = serializers.CharField(help_text="The listed word that matched.")
    category = serializers.ChoiceField(choices=WordCategory.choices)
    action = serializers.ChoiceField(choices=WordAction.choices)
    start = serializers.IntegerField(help_text="Where the match starts in the original text (code points).")
    end = serializers.IntegerField(help_text="Where it ends, exclusive.")
    matched = serializers.CharField(help_text="The original text of the match, evasions included.")


class LexiconSerializer(serializers.ModelSerializer):
    class Meta:
        model = Lexicon
        fields = ["community", "use_default_list", "version", "updated_at"]
        read_only_fields = ["community", "version", "updated_at"]


class LexiconEntrySerializer(serializers.ModelSerializer):
    community = ScopedCommunityField()
    category = serializers.ChoiceField(choices=WordCategory.choices)
    action = serializers.ChoiceField(
        choices=WordAction.choices, allow_blank=True, required=False, default="", help_text="Empty: the category's."
    )
    effective_action = serializers.ChoiceField(choices=WordAction.choices, read_only=True)

    class Meta:
        model = LexiconEntry
        fields = ["id", "community", "word", "category", "action", "effective_action", "created_at"]
        read_only_fields = ["id", "effective_action", "created_at"]
        extra_kwargs = {"word": {"max_length": 100}}
        validators = []  # the service answers duplicates in words


class AllowedTermSerializer(serializers.ModelSerializer):
    community = ScopedCommunityField()

    class Meta:
        model = AllowedTerm
        fields = ["id", "community", "term", "created_at"]
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {"term": {"max_length": 100}}
        validators = []


class ScanSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=20_000, trim_whitespace=False)


class ImportSerializer(serializers.Serializer):
    file_format = serializers.ChoiceField(choices=[("csv", "CSV"), ("txt", "TXT")])
    text = serializers.CharField(
        max_length=2_000_000,
        trim_whitespace=False,
        help_text="CSV: word,category,action per line. TXT: one word per line, all in `category`.",
    )
    category = serializers.ChoiceField(choices=WordCategory.choices, default=WordCategory.CUSTOM)


class ImportReportSerializer(serializers.Serializer):
    added = serializers.IntegerField()
    updated = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.CharField())


# --- Posts ----------------------------------------------------------------------------------


class ReviewStepSerializer(serializers.ModelSerializer):
    by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ReviewStep
        fields = ["stage", "decision", "by", "note", "at"]
        read_only_fields = fields


class PostSerializer(serializers.ModelSerializer):
    author_name = serializers.CharField(source="author.display_name", read_only=True, default="")
    steps = ReviewStepSerializer(many=True, read_only=True)
    status_url = serializers.SerializerMethodField(help_text="The author's status page; send it to them.")

    class Meta:
        model = Post
        fields = [
            "id",
            "community",
            "group",
            "author",
            "author_name",
            "source",
            "kind",
            "title",
            "body",
            "body_html",
            "status",
            "featured",
            "word_hits",
            "steps",
            "status_url",
            "created_at",
            "published_at",
        ]
        read_only_fields = fields

    def get_status_url(self, post: Post) -> str:
        path = reverse("content:post_status", kwargs={"token": post.status_token})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class PostCreateSerializer(serializers.Serializer):
    group = ScopedGroupField()
    kind = serializers.ChoiceField(choices=PostKind.choices)
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=20_000, help_text="Markdown; raw HTML is sanitised.")
    author_platform = serializers.ChoiceField(
        choices=Platform.choices,
        required=False,
        help_text="With author_external_id: post for the member with this platform account (integrations). "
        "Leave both out to post as staff.",
    )
    author_external_id = serializers.CharField(max_length=128, required=False)

    def validate(self, attrs):
        if ("author_platform" in attrs) != ("author_external_id" in attrs):
            missing = "author_external_id" if "author_platform" in attrs else "author_platform"
            raise serializers.ValidationError({missing: ["Give the platform and the account together."]})
        return attrs


class FirstReviewSerializer(serializers.Serializer):
    approve = serializers.BooleanField(help_text="True: on to the owner's final review. False: reject.")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class FinalReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=FINAL_DECISIONS)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class FeatureSerializer(serializers.Serializer):
    featured = serializers.BooleanField()


# --- Moderation -----------------------------------------------------------------------------


class MessageScanSerializer(serializers.Serializer):
    group = ScopedGroupField()
    platform = serializers.ChoiceField(choices=Platform.choices)
    external_message_id = serializers.CharField(max_length=128, help_text="The platform's id of the message.")
    text = serializers.CharField(max_length=20_000, trim_whitespace=False)
    author_external_id = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")


class ModerationFlagSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModerationFlag
        fields = [
            "id",
            "community",
            "group",
            "platform",
            "external_message_id",
            "author",
            "author_external_id",
            "excerpt",
            "hits",
            "action",
            "status",
            "created_at",
            "resolved_at",
        ]
        read_only_fields = fields


class MemberFlagSerializer(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.display_name", read_only=True)

    class Meta:
        model = MemberFlag
        fields = ["id", "member", "member_name", "group", "reason", "status", "note", "created_at", "resolved_at"]
        read_only_fields = fields


class ResolveSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


# --- Digests, calendar, auto-replies -------------------------------------------------------


class DigestSerializer(serializers.ModelSerializer):
    class Meta:
        model = Digest
        fields = [
            "id",
            "community",
            "period_start",
            "period_end",
            "title",
            "body",
            "posts",
            "status",
            "published_post",
            "created_at",
            "published_at",
        ]
        read_only_fields = fields


class DigestCreateSerializer(serializers.Serializer):
    community = ScopedCommunityField()
    period_start = serializers.DateField()
    period_end = serializers.DateField(help_text="Exclusive.")

    def validate(self, attrs):
        if not 2000 <= attrs["period_start"].year <= 2999:
            raise serializers.ValidationError({"period_start": ["Give a date in this millennium."]})
        days = (attrs["period_end"] - attrs["period_start"]).days
        if not 1 <= days <= 31:
            raise serializers.ValidationError({"period_end": ["A digest covers 1 to 31 days after its start."]})
        return attrs


class DigestUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=20_000)


class ScheduleSerializer(serializers.ModelSerializer):
    group = ScopedGroupField()
    kind = serializers.ChoiceField(choices=SCHEDULE_KINDS)
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        min_length=1,
        max_length=7,
        help_text="0 = Monday … 6 = Sunday",
    )
    time = serializers.TimeField(help_text="In the community's time zone.")

    class Meta:
        model = Schedule
        fields = ["id", "community", "group", "kind", "title", "body", "weekdays", "time", "is_active", "created_at"]
        read_only_fields = ["id", "community", "is_active", "created_at"]
        extra_kwargs = {"title": {"max_length": 200}, "body": {"max_length": 20_000}}


class ScheduleUpdateSerializer(serializers.Serializer):
    is_active = serializers.BooleanField()


class AutoReplySerializer(serializers.ModelSerializer):
    group = ScopedGroupField()
    match = serializers.ChoiceField(choices=MatchMode.choices, default=MatchMode.CONTAINS)
    priority = serializers.IntegerField(min_value=-100, max_value=100, default=0)

    class Meta:
        model = AutoReply
        fields = ["id", "group", "keyword", "match", "reply", "priority", "is_active", "created_at"]
        read_only_fields = ["id", "is_active", "created_at"]
        extra_kwargs = {"keyword": {"max_length": 100}, "reply": {"max_length": 2000}}


class AutoReplyAskSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=4000, trim_whitespace=False, help_text="The chat message.")


class AutoReplyAnswerSerializer(serializers.Serializer):
    rule = serializers.IntegerField()
    reply = serializers.CharField()
