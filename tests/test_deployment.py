"""The production shape in docker-compose.yml (no Docker engine runs here, so check its shape)."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_compose_runs_web_worker_beat_postgres_and_redis_with_healthchecks():
    services = compose()["services"]
    assert set(services) == {"web", "worker", "beat", "db", "redis"}
    for name, service in services.items():
        assert "healthcheck" in service, name
    assert "gunicorn" in services["web"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "community", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "community", "beat"]


def test_the_app_services_share_one_image_and_wait_for_their_backends():
    services = compose()["services"]
    for name in ("web", "worker", "beat"):
        assert services[name]["image"] == "canopy:latest"
        assert services[name]["environment"]["CANOPY_ENV"] == "production"
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy"
        assert services[name]["environment"]["REDIS_URL"].startswith("redis://redis")


def test_the_image_builds_static_files_and_translations():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "collectstatic --noinput" in dockerfile and "compilemessages" in dockerfile
    assert "requirements.txt" in dockerfile
