"""Every engagement model in the Django admin: lists, search and change pages open; the
records (check-ins, redemptions) are read-only."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from engagement.models import CheckIn, Level, MemberPass, OrganisedEvent, PointsRules, Redemption, RewardItem
from engagement.services.checkins import checkin_record
from engagement.services.levels import levels_for
from engagement.services.organised import organised_event_record
from engagement.services.passes import member_pass
from engagement.services.shop import reward_redeem, reward_save
from tests.engagement.conftest import grant

pytestmark = pytest.mark.django_db


def test_every_engagement_model_has_working_admin_pages(client, superuser, community, alice, photo):
    member_pass(member=alice)
    levels_for(community=community)
    checkin_record(member=alice, source="api")
    grant(alice, 100)
    reward_redeem(member=alice, item=reward_save(community=community, name="贴纸", cost=10))
    organised_event_record(group=photo, organiser=alice, title="外拍", held_on=timezone.localdate())
    client.force_login(superuser)
    models = (MemberPass, PointsRules, CheckIn, Level, RewardItem, Redemption, OrganisedEvent)
    for model in models:
        name = f"admin:engagement_{model._meta.model_name}"
        assert client.get(reverse(f"{name}_changelist")).status_code == 200, model
        assert client.get(reverse(f"{name}_changelist"), {"q": "群"}).status_code == 200, model
        instance = model.objects.first()
        assert instance is not None, model
        assert client.get(reverse(f"{name}_change", args=[instance.pk])).status_code == 200, model
    for model in (CheckIn, Redemption, OrganisedEvent):
        assert client.get(reverse(f"admin:engagement_{model._meta.model_name}_add")).status_code == 403
    assert client.get(reverse("admin:engagement_rewarditem_add")).status_code == 200
