"""The OpenAPI schema is valid, its docs need no CDN, and the API keeps every promise it makes."""

import io
import re
import threading

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.core.servers.basehttp import WSGIServer
from django.db import close_old_connections, connections
from django.test.testcases import LiveServerThread
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from community.wsgi import application
from tests.conftest import settled
from tests.factories import CommunityFactory, GroupFactory, UserFactory


def test_the_schema_is_valid_openapi_3_1(db):
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", stdout=out)
    assert '"openapi": "3.1.0"' in out.getvalue()


def test_the_schema_is_served(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/v1/groups/",
        "/api/v1/groups/{id}/",
        "/api/v1/groups/{id}/tree/",
        "/api/v1/groups/{id}/mermaid/",
        "/api/v1/groups/{id}/move/",
        "/api/v1/communities/",
    ]:
        assert path in paths


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_docs_load_their_assets_locally(client, db, path):
    html = client.get(path).content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn." not in html and "unpkg.com" not in html
    assert "fonts.googleapis.com" not in html and "fonts.gstatic.com" not in html
    # Nothing the page loads comes from another host.
    assert re.findall(r"""(?:src|href)=["'](?:https?:)?//""", html) == []


# --- The schema as a generated client reads it ----------------------------------------------

# The operations a bot calls (a bridge's scopes, the public join flow, check-ins, auto-replies):
# each carries a real request and response example.
BOT_FACING = [
    ("post", "/api/v1/events/"),
    ("post", "/api/v1/moderation/scan/"),
    ("get", "/api/v1/outbox/"),
    ("post", "/api/v1/outbox/{id}/ack/"),
    ("post", "/api/v1/invitations/accept/"),
    ("post", "/api/v1/public/applications/"),
    ("post", "/api/v1/groups/{id}/auto-reply/"),
    ("post", "/api/v1/check-ins/"),
]
AREAS = {"groups", "members", "funnel", "content", "moderation", "events", "analytics", "recall", "outbox"}
AREAS |= {"growth", "integrations"}


def _spec() -> dict:
    return schema.raw_schema


def _operations():
    for path, operations in _spec()["paths"].items():
        for method, operation in operations.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield method, path, operation


def test_openapi_spec_validator_accepts_the_schema():
    from openapi_spec_validator import OpenAPIV31SpecValidator

    assert [error.message for error in OpenAPIV31SpecValidator(_spec()).iter_errors()] == []


def test_every_operation_has_an_area_tag_and_a_description_of_its_own():
    leaked, bare, untagged = [], [], []
    for method, path, operation in _operations():
        description = (operation.get("description") or "").strip()
        if not description:
            bare.append((method, path))
        if "Serializer context" in description or "get_serializer_context" in description:
            leaked.append((method, path))
        if len(operation.get("tags", [])) != 1 or operation["tags"][0] not in AREAS:
            untagged.append((method, path, operation.get("tags")))
    assert (bare, leaked, untagged) == ([], [], [])


def test_no_placeholder_examples_from_the_framework_remain():
    import json

    assert "api.example.org" not in json.dumps(_spec())


def _validator(schema_node: dict):
    """A JSON Schema 2020-12 validator (OpenAPI 3.1's dialect) for a node of the schema."""
    from openapi_schema_validator import OAS31Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    resource = Resource.from_contents(_spec(), default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:canopy", resource)
    if "$ref" in schema_node:
        schema_node = {"$ref": "urn:canopy" + schema_node["$ref"]}
    return OAS31Validator(schema_node, registry=registry)


def test_every_example_is_valid_against_its_own_schema_and_bots_have_both():
    found, problems = {}, []
    for method, path, operation in _operations():
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        for name, example in (body.get("examples") or {}).items():
            found.setdefault((method, path), set()).add("request")
            for error in _validator(body["schema"]).iter_errors(example["value"]):
                problems.append((method, path, name, error.message))
        for code, response in operation["responses"].items():
            content = response.get("content", {}).get("application/json", {})
            for name, example in (content.get("examples") or {}).items():
                found.setdefault((method, path), set()).add("response")
                for error in _validator(content["schema"]).iter_errors(example["value"]):
                    problems.append((method, path, code, name, error.message))
    assert problems == []
    for method, path in BOT_FACING:
        expected = {"response"} if method == "get" else {"request", "response"}
        assert found.get((method, path)) == expected, (method, path)


def test_the_events_example_is_a_batch_the_api_takes(operator, community):
    """The documented request, sent as it is to a group with the example's WeCom chat id: stored
    the first time, duplicates the second, as the documented answer says."""
    from subgroups import services as tree

    operation = _spec()["paths"]["/api/v1/events/"]["post"]
    example = next(iter(operation["requestBody"]["content"]["application/json"]["examples"].values()))["value"]
    chat = example["events"][0]["group_external_id"]
    tree.group_update(group=community.hub, platform="wecom", external_id=chat)
    api = _token_api(operator)

    first = api.post("/api/v1/events/", example, format="json")
    again = api.post("/api/v1/events/", example, format="json")

    assert first.status_code == 200, first.content
    assert first.json()["accepted"] == 3 and first.json()["members_created"] == 3
    assert again.json()["duplicates"] == 3 and again.json()["accepted"] == 0


def test_the_webhooks_section_describes_a_real_delivery(community, eager_tasks):
    """Under `webhooks`: the payload, with examples that fit it, and the body Canopy really sends
    (``outbox.services.payload``) for a welcome and for a recall instruction fits it too."""
    from outbox.models import MessageKind
    from outbox.services import message_enqueue, payload

    webhook = _spec()["webhooks"]["outbox.message"]["post"]
    body = webhook["requestBody"]["content"]["application/json"]
    validator = _validator(body["schema"])
    assert len(body["examples"]) >= 2
    for example in body["examples"].values():
        assert list(validator.iter_errors(example["value"])) == []
    assert "webhook-signature" in webhook["description"] and "410" in webhook["responses"]
    for kind, recipient in ((MessageKind.WELCOME, "wm-1"), (MessageKind.INSTRUCTION, "")):
        message = message_enqueue(group=community.hub, kind=kind, body="欢迎", recipient_external_id=recipient)
        assert [error.message for error in validator.iter_errors(payload(message))] == []


def _token_api(user):
    from tests.personas import api_client

    return api_client(user)


# --- Fuzzing every endpoint against its own schema ------------------------------------------


@pytest.fixture
def _keep_the_test_connection():
    """The fuzzer calls the real WSGI handler, whose request signals would close the test's
    connection (it is inside the test transaction); Django's test client unhooks them the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def fuzz_token(module_db) -> str:
    """An operator of a small community, so the fuzzer's calls reach real rows as well as 404s.
    Built once for the module; each operation's cases run in a savepoint rolled back after them."""
    user = UserFactory(username="fuzzer")
    community = CommunityFactory(name="模糊测试社群", slug="fuzz")
    UserFactory(username="fuzzer", operator_of=[community])
    parent = GroupFactory(parent=community.hub, name="兴趣小群")
    GroupFactory(parent=parent, name="摄影群")
    return settled(Token.objects.create(user=user).key)


class _SharedConnectionServer(WSGIServer):
    """Answers one request at a time on the server's own thread, so the thread's cache client
    (and its Redis connection) lasts the module, as a production worker's does: a thread per
    request would open a new Redis connection for every throttle check. It counts the request in
    flight: the client has its answer before the request is closed (closing fires
    ``request_finished``, whose handler would close a connection found in a transaction), and
    that must be done before the test moves on."""

    def __init__(self, *args, connections_override=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.busy = 0
        self.idle = threading.Condition()

    def process_request(self, request, client_address):
        with self.idle:
            self.busy += 1
        try:
            super().process_request(request, client_address)
        finally:
            with self.idle:
                self.busy -= 1
                self.idle.notify_all()

    def settle(self) -> None:
        with self.idle:
            assert self.idle.wait_for(lambda: self.busy == 0, timeout=60), "the live server is stuck"


class _LiveServer(LiveServerThread):
    """Canopy over real HTTP on a free port, serving the test thread's database connection, so
    the seeded rows are visible to it and nothing it writes outlives the operation's savepoint.
    Requests come one at a time (the fuzzer waits for each answer), so the connection is never
    used by two threads at once."""

    server_class = _SharedConnectionServer

    def run(self) -> None:
        connections["default"] = self.connections_override["default"]
        self.httpd = self._create_server(connections_override=self.connections_override)
        self.port = self.httpd.server_address[1]
        self.httpd.set_app(application)
        self.is_ready.set()
        self.httpd.serve_forever()


@pytest.fixture(scope="module")
def live_api(fuzz_token):
    shared = connections["default"]  # the wrapper itself: `django.db.connection` is a proxy to it
    shared.inc_thread_sharing()
    server = _LiveServer("127.0.0.1", None, connections_override={"default": shared})
    server.daemon = True
    server.start()
    server.is_ready.wait(timeout=30)
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()
    server.join(timeout=10)
    shared.dec_thread_sharing()


@pytest.fixture
def token(db, fuzz_token, _keep_the_test_connection) -> str:
    return fuzz_token


# Loading the schema needs no database: the schema view reads only the code. The cases then go
# over HTTP to the live server (no app: schemathesis' requests transport).
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
schema.app = None
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.slow
@schema.parametrize()
@settings(
    # max_examples from the hypothesis profile: 12 in `make test` and CI, 40 in `make fuzz`,
    # 8 with HYPOTHESIS_PROFILE=quick (tests/conftest.py)
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
    database=None,
    derandomize=True,  # the same cases on every run: a failure in CI reproduces locally
)
def test_the_api_never_errors_and_always_answers_as_documented(case, token, live_api):
    try:
        case.call_and_validate(
            base_url=f"http://127.0.0.1:{live_api.port}", headers={"Authorization": f"Token {token}"}, checks=CHECKS
        )
    finally:
        live_api.httpd.settle()  # nothing may touch the connection once the test moves on
