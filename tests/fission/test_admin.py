"""The Django admin lists and shows every fission model to superusers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from fission.models import Campaign, InviteTaskCompletion, Referral
from tests.personas import page_client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", [Campaign, Referral, InviteTaskCompletion])
def test_every_model_is_in_the_admin(superuser, example, model):
    client = page_client(superuser)
    meta = model._meta
    assert client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")).status_code == 200
    obj = model.objects.first()
    assert client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])).status_code == 200


def test_referrals_cannot_be_added_by_hand(superuser, example):
    response = page_client(superuser).get(reverse("admin:fission_referral_add"))
    assert response.status_code == 403
