"""The OpenAPI schema is valid, its docs need no CDN, and the API keeps every promise it makes."""

import io

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.db import close_old_connections
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


def test_the_schema_is_valid_openapi_3(db):
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", stdout=out)
    assert '"openapi": "3.0.3"' in out.getvalue()


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


@pytest.fixture
def token(db, fuzz_token, _keep_the_test_connection) -> str:
    return fuzz_token


# Loading the schema needs no database: the schema view reads only the code.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
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
def test_the_api_never_errors_and_always_answers_as_documented(case, token):
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
