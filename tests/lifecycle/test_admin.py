"""The Django admin shows every lifecycle model; moves are history and cannot be changed there."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from lifecycle.models import LifecycleMove, LifecycleRule, MemberDate, TriggerKind
from lifecycle.services.dates import member_date_set
from lifecycle.services.engine import lifecycle_run
from tests.lifecycle.conftest import make_rule, student

pytestmark = pytest.mark.django_db


def test_every_lifecycle_model_has_working_admin_pages(client, superuser, community, stages):
    make_rule(community, stages["newcomer"], stages["intensive"], TriggerKind.DAYS_IN_GROUP, threshold=1)
    member = student(stages["newcomer"], joined=timezone.now() - timedelta(days=3))
    member_date_set(member=member, label="exam", date=timezone.localdate())
    lifecycle_run(community=community)
    client.force_login(superuser)
    for model, can_add in ((LifecycleRule, True), (MemberDate, True), (LifecycleMove, False)):
        name = f"admin:lifecycle_{model._meta.model_name}"
        assert client.get(reverse(f"{name}_changelist")).status_code == 200, model
        assert client.get(reverse(f"{name}_changelist"), {"q": "群"}).status_code == 200, model
        assert client.get(reverse(f"{name}_add")).status_code == (200 if can_add else 403), model
        assert client.get(reverse(f"{name}_change", args=[model.objects.get().pk])).status_code == 200, model
    move = LifecycleMove.objects.get()
    assert (
        client.post(reverse("admin:lifecycle_lifecyclemove_delete", args=[move.pk]), {"post": "yes"}).status_code == 403
    )
    assert LifecycleMove.objects.filter(pk=move.pk).exists()
