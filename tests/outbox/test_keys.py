"""Integration keys: created by owners, shown once, stored hashed, scoped to one community and
to the operations their scopes name; rotated with a grace period, revoked at once."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.permissions import AllowAny
from rest_framework.test import APIClient

from core.areas import KEY_AREAS, api_area
from core.errors import ApplicationError
from members.models import Member
from outbox import keys
from outbox.auth import KeyScopes
from outbox.models import Integration, IntegrationKey, MessageKind, OutboundMessage
from outbox.services import integration_create, message_enqueue
from tests.factories import MemberFactory
from tests.personas import api_client, page_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shared")]


@pytest.fixture
def integration(community) -> Integration:
    return integration_create(community=community, name="Telegram bridge", platform="telegram")


def issue(integration, *scopes, **extra) -> keys.IssuedKey:
    return keys.key_create(integration=integration, name="bridge", scopes=list(scopes), **extra)


def keyed(issued: keys.IssuedKey | str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {getattr(issued, 'secret', issued)}")
    return client


class TestIssuing:
    def test_the_key_is_returned_once_and_only_its_hash_is_kept(self, integration):
        issued = issue(integration, "events:write")
        assert issued.secret.startswith(f"cnp_{issued.key.prefix}_") and len(issued.secret) > 50
        stored = IntegrationKey.objects.get(pk=issued.key.pk)
        assert stored.hashed_key == hashlib.sha256(issued.secret.encode()).hexdigest()
        secret_part = issued.secret.rsplit("_", 1)[1]
        assert all(
            secret_part not in str(value) for value in IntegrationKey.objects.values().get(pk=stored.pk).values()
        )
        assert stored.scopes == ["events:write"]

    def test_every_key_is_different(self, integration):
        first, second = issue(integration, "events:write"), issue(integration, "events:write")
        assert first.secret != second.secret and first.key.prefix != second.key.prefix

    @pytest.mark.parametrize(
        ("scopes", "name", "expires_in", "field"),
        [
            ([], "bridge", None, "scopes"),
            (["events:write", "root"], "bridge", None, "scopes"),
            (["events:write"], "  ", None, "name"),
            (["events:write"], "x" * 101, None, "name"),
            (["events:write"], "bridge", -1, "expires_at"),
        ],
    )
    def test_bad_input_is_refused_with_the_field(self, integration, scopes, name, expires_in, field):
        expires_at = timezone.now() + timedelta(minutes=expires_in) if expires_in else None
        with pytest.raises(ApplicationError) as refused:
            keys.key_create(integration=integration, name=name, scopes=scopes, expires_at=expires_at)
        assert field in refused.value.extra["fields"]
        assert not IntegrationKey.objects.exists()

    def test_the_service_account_cannot_log_in_and_holds_no_role(self, integration):
        issue(integration, "events:write")
        integration.refresh_from_db()
        user = integration.user
        assert user is not None and not user.has_usable_password() and not user.is_staff
        assert not Member.objects.filter(user=user).exists()


class TestAuthenticating:
    def test_a_key_reads_its_community_and_nothing_else(self, integration, community, other_community):
        client = keyed(issue(integration, "groups:read"))
        listed = client.get("/api/v1/groups/", {"page_size": 100}).json()["results"]
        assert {group["community"] for group in listed} == {community.pk}
        assert client.get(f"/api/v1/groups/{community.hub.pk}/").status_code == 200
        foreign = client.get(f"/api/v1/groups/{other_community.hub.pk}/")
        assert foreign.status_code == 404 and foreign.json()["code"] == "not_found"
        assert [c["id"] for c in client.get("/api/v1/communities/").json()["results"]] == [community.pk]

    def test_a_missing_scope_is_a_403_that_names_it(self, integration, community):
        client = keyed(issue(integration, "events:write"))
        response = client.get("/api/v1/groups/")
        assert response.status_code == 403
        assert response.json()["code"] == "missing_scope" and "groups:read" in response.json()["message"]
        write = keyed(issue(integration, "groups:read")).post(
            "/api/v1/groups/", {"community": community.pk, "parent": community.hub.pk, "name": "新群"}
        )
        assert write.status_code == 403 and "groups:write" in write.json()["message"]

    def test_events_from_a_key_are_stored_in_its_community_only(self, integration, community, other_community):
        now = timezone.now().isoformat()
        batch = {
            "events": [
                {"type": "message", "group": community.hub.pk, "user_id": "tg-1", "occurred_at": now, "event_id": "a"},
                {
                    "type": "message",
                    "group": other_community.hub.pk,
                    "user_id": "tg-2",
                    "occurred_at": now,
                    "event_id": "b",
                },
            ]
        }
        body = keyed(issue(integration, "events:write")).post("/api/v1/events/", batch).json()
        assert (body["accepted"], body["rejected"]) == (1, 1)
        assert body["errors"][0]["index"] == 1

    def test_keys_never_see_phone_numbers(self, integration, community):
        member = MemberFactory(community=community, phone="13812345678")
        data = keyed(issue(integration, "members:read")).get(f"/api/v1/members/{member.pk}/").json()
        assert "13812345678" not in str(data)

    def test_outbox_reading_and_acknowledging_are_separate_scopes(self, integration, community):
        message = message_enqueue(group=community.hub, kind=MessageKind.ANNOUNCEMENT, body="本周活动")
        reader = keyed(issue(integration, "outbox:read"))
        assert [m["id"] for m in reader.get("/api/v1/outbox/").json()["results"]] == [message.pk]
        refused = reader.post(f"/api/v1/outbox/{message.pk}/ack/", {"delivered": True})
        assert refused.status_code == 403 and "outbox:ack" in refused.json()["message"]
        acked = keyed(issue(integration, "outbox:read", "outbox:ack")).post(f"/api/v1/outbox/{message.pk}/ack/")
        assert acked.status_code == 200 and acked.json()["status"] == "delivered"
        assert OutboundMessage.objects.get(pk=message.pk).status == "delivered"

    def test_keys_cannot_manage_integrations_or_keys(self, integration):
        client = keyed(issue(integration, *keys.SCOPES))
        for response in (
            client.get("/api/v1/integrations/"),
            client.get("/api/v1/integration-keys/"),
            client.post(
                "/api/v1/integration-keys/", {"integration": integration.pk, "name": "x", "scopes": ["groups:read"]}
            ),
        ):
            assert response.status_code == 403 and response.json()["code"] == "missing_scope"

    def test_owner_only_actions_stay_out_of_reach(self, integration, community):
        response = keyed(issue(integration, *keys.SCOPES)).patch(
            f"/api/v1/groups/{community.hub.pk}/content-settings/", {"skip_review": True}
        )
        assert response.status_code == 403

    @pytest.mark.parametrize("spoil", ["revoke", "expire", "wrong_secret", "unknown", "deactivate"])
    def test_unusable_keys_get_a_401_with_a_code(self, integration, spoil):
        issued = issue(integration, "groups:read")
        secret = issued.secret
        if spoil == "revoke":
            keys.key_revoke(key=issued.key)
        elif spoil == "expire":
            IntegrationKey.objects.filter(pk=issued.key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        elif spoil == "wrong_secret":
            secret = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
        elif spoil == "unknown":
            secret = "cnp_000000000000_" + "x" * 43
        else:
            Integration.objects.filter(pk=integration.pk).update(is_active=False)
        response = keyed(secret).get("/api/v1/groups/")
        assert response.status_code == 401
        assert response.json()["code"] == "key_invalid" and response["WWW-Authenticate"] == "Bearer"

    def test_last_use_is_recorded_at_most_once_a_minute(self, integration):
        issued = issue(integration, "groups:read")
        client = keyed(issued)
        client.get("/api/v1/groups/")
        first = IntegrationKey.objects.get(pk=issued.key.pk).last_used_at
        assert first is not None and timezone.now() - first < timedelta(seconds=30)
        client.get("/api/v1/groups/")
        assert IntegrationKey.objects.get(pk=issued.key.pk).last_used_at == first
        IntegrationKey.objects.filter(pk=issued.key.pk).update(last_used_at=first - timedelta(minutes=2))
        client.get("/api/v1/groups/")
        assert IntegrationKey.objects.get(pk=issued.key.pk).last_used_at > first

    def test_user_tokens_still_work_beside_keys(self, operator, integration):
        assert api_client(operator).get("/api/v1/integrations/").status_code == 200


class TestRotating:
    def test_both_keys_work_during_the_grace_period_and_then_only_the_new_one(self, integration):
        old = issue(integration, "groups:read", "events:write")
        new = keys.key_rotate(key=old.key)
        assert new.key.scopes == ["events:write", "groups:read"] and new.key.rotated_from_id == old.key.pk
        assert keyed(old).get("/api/v1/groups/").status_code == 200
        assert keyed(new).get("/api/v1/groups/").status_code == 200
        old.key.refresh_from_db()
        grace_end = timezone.now() + timedelta(hours=24)
        assert abs(old.key.expires_at - grace_end) < timedelta(minutes=1)
        assert not old.key.is_usable(now=grace_end + timedelta(minutes=1))
        assert new.key.is_usable(now=grace_end + timedelta(minutes=1))

    @override_settings(CANOPY_KEY_ROTATION_GRACE_HOURS=0)
    def test_no_grace_stops_the_old_key_at_once(self, integration):
        old = issue(integration, "groups:read")
        new = keys.key_rotate(key=old.key)
        assert keyed(old).get("/api/v1/groups/").status_code == 401
        assert keyed(new).get("/api/v1/groups/").status_code == 200

    def test_an_earlier_expiry_is_kept(self, integration):
        soon = timezone.now() + timedelta(hours=1)
        old = issue(integration, "groups:read", expires_at=soon)
        new = keys.key_rotate(key=old.key)
        old.key.refresh_from_db()
        assert old.key.expires_at == soon and new.key.expires_at == soon

    def test_a_key_is_rotated_once_and_a_revoked_key_not_at_all(self, integration):
        old = issue(integration, "groups:read")
        keys.key_rotate(key=old.key)
        with pytest.raises(ApplicationError):
            keys.key_rotate(key=old.key)
        revoked = issue(integration, "groups:read")
        keys.key_revoke(key=revoked.key)
        with pytest.raises(ApplicationError):
            keys.key_rotate(key=revoked.key)
        assert IntegrationKey.objects.count() == 3


class TestTheKeysApi:
    def test_an_owner_creates_a_key_and_sees_the_secret_once(self, operator, integration):
        client = api_client(operator)
        created = client.post(
            "/api/v1/integration-keys/",
            {"integration": integration.pk, "name": "Telegram", "scopes": ["events:write", "outbox:read"]},
        )
        assert created.status_code == 201, created.content
        body = created.json()
        assert body["secret"].startswith("cnp_") and body["usable"] is True
        assert keyed(body["secret"]).get("/api/v1/outbox/").status_code == 200
        listed = client.get("/api/v1/integration-keys/", {"integration": integration.pk}).json()["results"]
        assert [key["id"] for key in listed] == [body["id"]] and "secret" not in listed[0]
        assert "secret" not in client.get(f"/api/v1/integration-keys/{body['id']}/").json()

    def test_rotate_and_revoke(self, operator, integration):
        client = api_client(operator)
        old = issue(integration, "groups:read")
        rotated = client.post(f"/api/v1/integration-keys/{old.key.pk}/rotate/")
        assert rotated.status_code == 201 and rotated.json()["rotated_from"] == old.key.pk
        assert client.get(f"/api/v1/integration-keys/{old.key.pk}/").json()["rotated_to"] == rotated.json()["id"]
        again = client.post(f"/api/v1/integration-keys/{old.key.pk}/rotate/")
        assert again.status_code == 400 and again.json()["code"] == "invalid"
        revoked = client.post(f"/api/v1/integration-keys/{rotated.json()['id']}/revoke/")
        assert revoked.status_code == 200 and revoked.json()["usable"] is False
        assert keyed(rotated.json()["secret"]).get("/api/v1/groups/").status_code == 401

    def test_bad_input_names_the_field(self, operator, integration):
        response = api_client(operator).post(
            "/api/v1/integration-keys/", {"integration": integration.pk, "name": "x", "scopes": ["everything"]}
        )
        assert response.status_code == 400 and response.json()["code"] == "invalid"
        assert "scopes" in response.json()["extra"]["fields"]

    def test_only_owners_manage_keys(self, subtree_admin, outsider, integration):
        issued = issue(integration, "groups:read")
        body = {"integration": integration.pk, "name": "x", "scopes": ["groups:read"]}
        assert api_client(subtree_admin).post("/api/v1/integration-keys/", body).status_code == 404
        assert api_client(outsider).post("/api/v1/integration-keys/", body).status_code == 404
        assert api_client(outsider).get(f"/api/v1/integration-keys/{issued.key.pk}/").status_code == 404
        assert api_client(outsider).post(f"/api/v1/integration-keys/{issued.key.pk}/revoke/").status_code == 404
        assert IntegrationKey.objects.get(pk=issued.key.pk).revoked_at is None


class TestTheBotsPage:
    def test_an_owner_creates_rotates_and_revokes_keys_on_the_page(self, operator, community, integration):
        client = page_client(operator)
        url = f"/c/{community.slug}/content/integrations/"
        page = client.get(url)
        assert page.status_code == 200
        ticked = set(re.findall(r'name="scopes" value="([a-z:]+)"[^>]* checked', page.content.decode()))
        assert ticked == set(keys.BRIDGE_SCOPES)  # a bridge's needs, ticked to start with
        created = client.post(
            url,
            {"action": "create_key", "integration": integration.pk, "name": "TG", "scopes": ["events:write"]},
        )
        assert created.status_code == 200
        key = IntegrationKey.objects.get(name="TG")
        html = created.content.decode()
        secret = html.split('<code class="secret">')[1].split("</code>")[0]
        assert secret.startswith(f"cnp_{key.prefix}_") and key.hashed_key == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in client.get(url).content.decode()  # shown once

        rotated = client.post(url, {"action": "rotate_key", "id": key.pk})
        successor = IntegrationKey.objects.get(rotated_from=key)
        assert f"cnp_{successor.prefix}_" in rotated.content.decode()
        client.post(url, {"action": "revoke_key", "id": successor.pk})
        assert IntegrationKey.objects.get(pk=successor.pk).revoked_at is not None

    def test_a_key_form_without_scopes_shows_the_error(self, operator, community, integration):
        response = page_client(operator).post(
            f"/c/{community.slug}/content/integrations/",
            {"action": "create_key", "integration": integration.pk, "name": "TG"},
        )
        assert response.status_code == 400 and not IntegrationKey.objects.exists()

    def test_another_communitys_key_cannot_be_touched(self, outsider, other_community, integration):
        issued = issue(integration, "groups:read")
        response = page_client(outsider).post(
            f"/c/{other_community.slug}/content/integrations/", {"action": "revoke_key", "id": issued.key.pk}
        )
        assert response.status_code == 404 and IntegrationKey.objects.get(pk=issued.key.pk).revoked_at is None


def _api_views():
    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern):
                view = getattr(pattern.callback, "cls", None)
                if view is not None and not view.__module__.startswith(("rest_framework", "drf_spectacular")):
                    yield view

    return set(walk(get_resolver().url_patterns))


def test_every_api_view_has_an_area_and_checks_key_scopes():
    views = _api_views()
    assert len(views) > 60
    for view in views:
        assert api_area(view()), view
        permissions = view().get_permissions()
        public = any(isinstance(permission, AllowAny) for permission in permissions)
        assert public or any(isinstance(permission, KeyScopes) for permission in permissions), view
    assert {api_area(view()) for view in views} >= KEY_AREAS
