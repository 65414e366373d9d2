import pytest
from django.conf import settings


@pytest.mark.django_db
def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["checks"]["database"] == "ok"
    assert response["Cache-Control"].startswith("max-age=0")
    if settings.REDIS_URL:
        assert body["checks"]["redis"] == "ok"
