"""Idempotency-Key on the API's POSTs: a retry gets the first answer and changes nothing, the
same key with another request is a 422, a retry while the first runs is a 409; keys belong to
one credential and last 24 hours."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from core.idempotency import purge_expired
from core.models import IdempotentRequest
from members.models import Member
from tests.factories import UserFactory
from tests.personas import api_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shared")]
URL = "/api/v1/members/"


def add(client: APIClient, community, key: str | None, name: str = "林嘉琪"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(URL, {"community": community.pk, "display_name": name}, format="json", **headers)


def members_named(community, name: str) -> int:
    return Member.objects.filter(community=community, display_name=name).count()


def test_a_retry_gets_the_first_answer_and_changes_nothing(operator, community):
    client = api_client(operator)
    first = add(client, community, "add-lin-1")
    second = add(client, community, "add-lin-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert members_named(community, "林嘉琪") == 1


def test_without_a_key_each_post_counts(operator, community):
    client = api_client(operator)
    add(client, community, None)
    add(client, community, None)
    assert members_named(community, "林嘉琪") == 2 and not IdempotentRequest.objects.exists()


def test_the_same_key_for_another_request_is_a_422(operator, community):
    client = api_client(operator)
    add(client, community, "k")
    reused = add(client, community, "k", name="王芳")
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    assert members_named(community, "王芳") == 0


def test_keys_belong_to_one_credential(operator, community):
    add(api_client(operator), community, "shared-key")
    other = add(api_client(UserFactory(username="second", operator_of=[community])), community, "shared-key")
    assert other.status_code == 201 and "Idempotent-Replayed" not in other
    assert members_named(community, "林嘉琪") == 2


def test_a_bad_request_is_kept_but_a_refusal_is_not(operator, outsider, community):
    client = api_client(operator)
    bad = client.post(URL, {"community": community.pk}, format="json", HTTP_IDEMPOTENCY_KEY="bad-1")
    again = client.post(URL, {"community": community.pk}, format="json", HTTP_IDEMPOTENCY_KEY="bad-1")
    assert bad.status_code == again.status_code == 400 and again["Idempotent-Replayed"] == "true"
    # A 404 depends on what the credential may see, which can change: it is not kept.
    refused = add(api_client(outsider), community, "not-yours")
    assert refused.status_code == 404 and not IdempotentRequest.objects.filter(key="not-yours").exists()


def test_keys_expire_after_a_day(operator, community):
    client = api_client(operator)
    add(client, community, "daily")
    IdempotentRequest.objects.filter(key="daily").update(created_at=timezone.now() - timedelta(hours=25))
    assert add(client, community, "daily").status_code == 201
    assert members_named(community, "林嘉琪") == 2
    IdempotentRequest.objects.filter(key="daily").update(created_at=timezone.now() - timedelta(hours=25))
    assert purge_expired() == 1 and not IdempotentRequest.objects.exists()


def test_a_request_that_died_running_frees_its_key_after_five_minutes(operator, community):
    client = api_client(operator)
    add(client, community, "crashed")
    # As a process killed mid-request leaves it: claimed, never completed.
    IdempotentRequest.objects.filter(key="crashed").update(completed_at=None, status_code=None)
    assert add(client, community, "crashed").status_code == 409
    IdempotentRequest.objects.filter(key="crashed").update(created_at=timezone.now() - timedelta(minutes=6))
    assert add(client, community, "crashed").status_code == 201
    assert members_named(community, "林嘉琪") == 2
    assert IdempotentRequest.objects.get(key="crashed").completed_at is not None


@pytest.mark.parametrize("key", ["", "x" * 256, "ключ", "a\tb"])
def test_a_malformed_key_is_a_400(operator, community, key):
    response = add(api_client(operator), community, key)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["extra"]["fields"]
    assert members_named(community, "林嘉琪") == 0


def test_anonymous_requests_are_not_remembered(anonymous_api, community):
    anonymous_api.post(URL, {}, format="json", HTTP_IDEMPOTENCY_KEY="anon")
    assert not IdempotentRequest.objects.exists()


def test_integration_keys_work_with_it(community):
    from outbox import keys
    from outbox.services import integration_create

    issued = keys.key_create(
        integration=integration_create(community=community, name="bot"), name="k", scopes=["members:write"]
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    assert add(client, community, "bot-1").status_code == 201
    assert add(client, community, "bot-1")["Idempotent-Replayed"] == "true"
    assert members_named(community, "林嘉琪") == 1
