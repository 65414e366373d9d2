from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from subgroups.models import (
    LANGUAGES,
    MAX_CAPACITY,
    SUBGROUP_KINDS,
    Community,
    Group,
    GroupKind,
    GroupStatus,
    LifecycleStage,
    Platform,
)

_MAX_ID = 2**63 - 1


class AdmissionCriteriaSerializer(serializers.Serializer):
    """The documented shape of ``admission_criteria``; which keys a group may use depends on its
    kind (tier: min_purchases, annual_member; region: cities; lifecycle: stage; interest: tags;
    custom: any)."""

    min_purchases = serializers.IntegerField(min_value=0, max_value=100_000, required=False, allow_null=True)
    annual_member = serializers.BooleanField(required=False, allow_null=True)
    cities = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=50)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=50)
    stage = serializers.ChoiceField(choices=LifecycleStage.choices, required=False, allow_null=True)


@extend_schema_field(AdmissionCriteriaSerializer)
class AdmissionCriteriaField(serializers.JSONField):
    """Free JSON on the way in, so the service can name unknown keys instead of dropping them."""


@extend_schema_field(OpenApiTypes.INT)
class ScopedGroupField(serializers.PrimaryKeyRelatedField):
    """A group id, looked up only among the groups the requesting user may see; any other id
    reads as "does not exist", so ids in other communities reveal nothing."""

    def get_queryset(self):
        return self.context["visible_groups"]

    def to_internal_value(self, data):
        if isinstance(data, bool) or (isinstance(data, int) and not 0 < data <= _MAX_ID):
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


class CommunitySerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="hub.name", read_only=True)
    hub = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Community
        fields = ["id", "slug", "name", "hub", "time_zone", "language", "banned_name_words", "created_at", "updated_at"]
        read_only_fields = fields


class CommunityCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="The hub's name, e.g. 互联网从业者交流群.")
    slug = serializers.CharField(max_length=60, required=False, help_text="Made from the name when left out.")
    platform = serializers.ChoiceField(choices=Platform.choices, default=Platform.WECOM)
    capacity = serializers.IntegerField(min_value=1, max_value=MAX_CAPACITY, required=False)
    external_id = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    time_zone = serializers.CharField(max_length=64, required=False)
    language = serializers.ChoiceField(
        choices=LANGUAGES, required=False, help_text="What members receive and see is written in: en or zh-hans."
    )
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")
    rules = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")


class CommunityUpdateSerializer(serializers.Serializer):
    time_zone = serializers.CharField(max_length=64, required=False)
    language = serializers.ChoiceField(
        choices=LANGUAGES, required=False, help_text="What members receive and see is written in: en or zh-hans."
    )
    banned_name_words = serializers.ListField(
        child=serializers.CharField(max_length=30, allow_blank=True), required=False, max_length=200
    )


class ProposeNameQuerySerializer(serializers.Serializer):
    attribute = serializers.CharField(max_length=40, help_text="What the group is about, e.g. 摄影.")


class ProposedNameSerializer(serializers.Serializer):
    name = serializers.CharField()


class GroupSerializer(serializers.ModelSerializer):
    admission_criteria = AdmissionCriteriaField(read_only=True)
    over_capacity = serializers.BooleanField(
        read_only=True, help_text="The platform reports more members than the capacity: Canopy admits no one more."
    )

    class Meta:
        model = Group
        fields = [
            "id",
            "community",
            "parent",
            "name",
            "slug",
            "kind",
            "platform",
            "external_id",
            "capacity",
            "member_count",
            "over_capacity",
            "status",
            "level",
            "description",
            "rules",
            "admission_criteria",
            "archived_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class GroupCreateSerializer(serializers.Serializer):
    parent = ScopedGroupField(help_text="The group to create the new one under.")
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=SUBGROUP_KINDS)
    slug = serializers.CharField(max_length=80, required=False, help_text="Made from the name when left out.")
    platform = serializers.ChoiceField(choices=Platform.choices, required=False, help_text="The parent's by default.")
    capacity = serializers.IntegerField(
        min_value=1, max_value=MAX_CAPACITY, required=False, help_text="The platform's cap by default (WeChat: 500)."
    )
    external_id = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")
    rules = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")
    admission_criteria = AdmissionCriteriaField(required=False, default=dict)


class GroupUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    platform = serializers.ChoiceField(choices=Platform.choices, required=False)
    capacity = serializers.IntegerField(min_value=1, max_value=MAX_CAPACITY, required=False)
    external_id = serializers.CharField(max_length=128, required=False, allow_blank=True)
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    rules = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    admission_criteria = AdmissionCriteriaField(required=False)


class GroupMoveSerializer(serializers.Serializer):
    parent = ScopedGroupField(help_text="The new parent, in the same community.")


class ChangedCountSerializer(serializers.Serializer):
    changed = serializers.IntegerField(help_text="How many groups changed status.")


class TreeNodeSerializer(serializers.Serializer):
    """A group with its sub-groups, nested to any depth."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    kind = serializers.ChoiceField(choices=GroupKind.choices)
    platform = serializers.ChoiceField(choices=Platform.choices)
    capacity = serializers.IntegerField()
    member_count = serializers.IntegerField()
    status = serializers.ChoiceField(choices=GroupStatus.choices)

    def get_fields(self):
        fields = super().get_fields()
        fields["children"] = TreeNodeSerializer(many=True)
        return fields
