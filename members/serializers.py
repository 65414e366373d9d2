from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from members.models import (
    Application,
    ApplicationStatus,
    Invitation,
    LiveCode,
    Member,
    Membership,
    MembershipSource,
    Question,
    Role,
)
from members.privacy import shown_email, shown_phone
from subgroups.models import LANGUAGES, SUBGROUP_KINDS, LifecycleStage, Platform
from subgroups.serializers import ScopedGroupField

_MAX_ID = 2**63 - 1


@extend_schema_field(OpenApiTypes.INT)
class ScopedPkField(serializers.PrimaryKeyRelatedField):
    """An id looked up only in ``context[<queryset_key>]``: other ids read as missing."""

    def __init__(self, *, queryset_key: str, **kwargs):
        self.queryset_key = queryset_key
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.context[self.queryset_key]

    def to_internal_value(self, data):
        if isinstance(data, bool) or (isinstance(data, int) and not 0 < data <= _MAX_ID):
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


class HandleSerializer(serializers.Serializer):
    platform = serializers.ChoiceField(choices=Platform.choices)
    external_id = serializers.CharField(max_length=128)


LANGUAGE_HELP = "The member's own language (e.g. as the platform reports it); empty: the community's."


class MemberSerializer(serializers.ModelSerializer):
    """Phone and e-mail are masked (138****1234) unless the viewer owns the community."""

    phone = serializers.SerializerMethodField()
    email = serializers.SerializerMethodField()
    lifecycle_stage = serializers.ChoiceField(choices=LifecycleStage.choices, allow_blank=True, read_only=True)
    language = serializers.ChoiceField(choices=LANGUAGES, allow_blank=True, read_only=True, help_text=LANGUAGE_HELP)
    handles = HandleSerializer(many=True, read_only=True)

    class Meta:
        model = Member
        fields = [
            "id",
            "community",
            "display_name",
            "phone",
            "email",
            "city",
            "language",
            "purchase_count",
            "annual_member",
            "lifecycle_stage",
            "tags",
            "notes",
            "handles",
            "joined_at",
            "last_seen_at",
            "created_at",
        ]
        read_only_fields = fields

    def _visible(self, member: Member) -> bool:
        return member.community_id in self.context.get("personal_data_communities", ())

    def get_phone(self, member: Member) -> str:
        return shown_phone(member.phone, visible=self._visible(member))

    def get_email(self, member: Member) -> str:
        return shown_email(member.email, visible=self._visible(member))


class MemberCreateSerializer(serializers.Serializer):
    community = serializers.IntegerField(min_value=1, max_value=_MAX_ID)
    group = ScopedGroupField(required=False, help_text="Also add the member to this group.")
    display_name = serializers.CharField(max_length=100)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    language = serializers.ChoiceField(
        choices=LANGUAGES,
        required=False,
        allow_blank=True,
        default="",
        help_text=LANGUAGE_HELP,
    )
    purchase_count = serializers.IntegerField(min_value=0, max_value=100_000, required=False, default=0)
    annual_member = serializers.BooleanField(required=False, default=False)
    lifecycle_stage = serializers.ChoiceField(
        choices=LifecycleStage.choices, required=False, allow_blank=True, default=""
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=30), required=False, max_length=30, default=list
    )
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    handles = HandleSerializer(many=True, required=False, default=list)


class MemberUpdateSerializer(serializers.Serializer):
    display_name = serializers.CharField(max_length=100, required=False)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    city = serializers.CharField(max_length=50, required=False, allow_blank=True)
    language = serializers.ChoiceField(
        choices=LANGUAGES,
        required=False,
        allow_blank=True,
        help_text=LANGUAGE_HELP,
    )
    purchase_count = serializers.IntegerField(min_value=0, max_value=100_000, required=False)
    annual_member = serializers.BooleanField(required=False)
    lifecycle_stage = serializers.ChoiceField(choices=LifecycleStage.choices, required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=30), required=False, max_length=30)
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class MembershipSerializer(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.display_name", read_only=True)
    group_name = serializers.CharField(source="group.name", read_only=True)

    class Meta:
        model = Membership
        fields = [
            "id",
            "member",
            "member_name",
            "group",
            "group_name",
            "role",
            "status",
            "source",
            "invited_by",
            "live_code",
            "joined_at",
            "left_at",
            "role_since",
            "role_until",
        ]
        read_only_fields = fields


class MembershipCreateSerializer(serializers.Serializer):
    member = ScopedPkField(queryset_key="visible_members")
    group = ScopedGroupField()
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)
    source = serializers.ChoiceField(choices=MembershipSource.choices, default=MembershipSource.MANUAL)


class MembershipUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)
    role_until = serializers.DateTimeField(required=False, allow_null=True, default=None)


class MembershipEndSerializer(serializers.Serializer):
    removed = serializers.BooleanField(default=False, help_text="Removed by an admin, rather than left.")


class InvitationSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    state = serializers.CharField(read_only=True)

    class Meta:
        model = Invitation
        fields = ["id", "group", "token", "url", "state", "created_at", "expires_at", "accepted_at"]
        read_only_fields = fields

    def get_url(self, invitation: Invitation) -> str:
        from django.urls import reverse

        from members.services.funnel import public_url

        return public_url(reverse("members:invitation", args=[invitation.token]))


class AnswerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    question = serializers.CharField()
    answer = serializers.JSONField()


class ApplicationSerializer(serializers.ModelSerializer):
    phone = serializers.SerializerMethodField()
    email = serializers.SerializerMethodField()
    answers = AnswerSerializer(many=True, read_only=True)
    platform = serializers.ChoiceField(choices=Platform.choices, allow_blank=True, read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    invitation = serializers.SerializerMethodField()

    class Meta:
        model = Application
        fields = [
            "id",
            "group",
            "member",
            "display_name",
            "phone",
            "email",
            "city",
            "platform",
            "external_user_id",
            "answers",
            "status",
            "submitted_at",
            "decided_at",
            "decided_by",
            "decided_automatically",
            "decision_reason",
            "invitation",
        ]
        read_only_fields = fields

    def _visible(self, application: Application) -> bool:
        return application.community_id in self.context.get("personal_data_communities", ())

    def get_phone(self, application: Application) -> str:
        return shown_phone(application.phone, visible=self._visible(application))

    def get_email(self, application: Application) -> str:
        return shown_email(application.email, visible=self._visible(application))

    @extend_schema_field(InvitationSerializer(allow_null=True))
    def get_invitation(self, application: Application):
        invitation = getattr(application, "invitation", None)
        return InvitationSerializer(invitation).data if invitation else None


class ApplicationSubmitSerializer(serializers.Serializer):
    community = serializers.SlugField(max_length=60, help_text="The community's slug.")
    group = serializers.SlugField(max_length=80, help_text="The group's slug.")
    display_name = serializers.CharField(max_length=100)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    platform = serializers.ChoiceField(choices=Platform.choices, required=False, allow_blank=True, default="")
    external_user_id = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    answers = serializers.DictField(
        required=False,
        default=dict,
        help_text='Answers keyed by question, e.g. {"q_12": ["产品", "技术"], "q_13": "50-150人"}.',
    )


class ApplicationCreateSerializer(serializers.Serializer):
    group = ScopedGroupField()
    display_name = serializers.CharField(max_length=100)
    platform = serializers.ChoiceField(choices=Platform.choices)
    external_user_id = serializers.CharField(max_length=128)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    answers = serializers.DictField(required=False, default=dict)


class ApplicationReceiptSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ApplicationStatus.choices)
    status_url = serializers.CharField(help_text="Where the applicant follows (and can withdraw) the application.")
    decision_reason = serializers.CharField()


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000)


class BulkApproveSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=_MAX_ID), max_length=200, min_length=1
    )


class BulkApproveResultSerializer(serializers.Serializer):
    approved = serializers.IntegerField()
    skipped = serializers.ListField(child=serializers.CharField())


class InvitationAcceptSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=64)
    platform = serializers.ChoiceField(choices=Platform.choices)
    external_user_id = serializers.CharField(max_length=128)


class JoinedSerializer(serializers.Serializer):
    membership = MembershipSerializer()
    group_join_link = serializers.CharField()
    welcome = serializers.CharField(help_text="The welcome message, also queued for the integration to send.")


class QuestionSerializer(serializers.ModelSerializer):
    field = serializers.SerializerMethodField(help_text="The key of this question's answer in `answers`.")
    show_if = serializers.SerializerMethodField()

    class Meta:
        model = Question
        fields = ["id", "field", "text", "kind", "required", "choices", "show_if", "show_if_answers"]
        read_only_fields = fields

    def get_field(self, question: Question) -> str:
        return f"q_{question.pk}"

    def get_show_if(self, question: Question) -> str | None:
        return f"q_{question.show_if_question_id}" if question.show_if_question_id else None


class LiveCodeSerializer(serializers.ModelSerializer):
    public_url = serializers.SerializerMethodField()
    groups = serializers.SerializerMethodField()

    class Meta:
        model = LiveCode
        fields = [
            "id",
            "community",
            "name",
            "slug",
            "public_url",
            "parent",
            "attribute",
            "kind",
            "join_limit",
            "max_groups",
            "is_active",
            "scan_count",
            "groups",
            "created_at",
        ]
        read_only_fields = fields

    def get_public_url(self, code: LiveCode) -> str:
        from django.urls import reverse

        from members.services.funnel import public_url

        return public_url(reverse("members:livecode_public", args=[code.slug]))

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_groups(self, code: LiveCode) -> list[int]:
        return list(code.pool.order_by("position", "pk").values_list("group_id", flat=True))


class LiveCodeCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    parent = ScopedGroupField(help_text="New groups open under this group.")
    attribute = serializers.CharField(max_length=40, help_text="Names new groups <hub>-<attribute>小群<NN>.")
    groups = serializers.ListField(child=ScopedGroupField(), required=False, default=list, max_length=99)
    kind = serializers.ChoiceField(choices=SUBGROUP_KINDS, default="interest")
    join_limit = serializers.IntegerField(
        min_value=1, max_value=1_000_000, required=False, allow_null=True, default=None
    )
    max_groups = serializers.IntegerField(min_value=1, max_value=99, default=10)
    guide = ScopedPkField(
        queryset_key="visible_members",
        required=False,
        allow_null=True,
        default=None,
        help_text="A member who becomes the guide of each group the code opens.",
    )


class LiveCodeResolveSerializer(serializers.Serializer):
    display_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    platform = serializers.ChoiceField(choices=Platform.choices)
    external_user_id = serializers.CharField(max_length=128)
