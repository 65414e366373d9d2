"""The production shape in docker-compose.yml (no Docker engine runs here, so check its shape)."""

import re
import shlex
from pathlib import Path

import yaml

from tests.test_settings import GOOD_KEY, start

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_compose_runs_web_worker_beat_postgres_and_redis_with_healthchecks():
    services = compose()["services"]
    assert set(services) == {"migrate", "web", "worker", "beat", "db", "redis"}
    for name, service in services.items():
        if name != "migrate":  # a one-shot: it runs and exits
            assert "healthcheck" in service, name
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
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
        # Nothing starts on a schema that is not migrated yet.
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "migrate" not in str(services[name]["command"])
        # Every setting in .env reaches the app, and the ones production needs stop compose without them.
        assert services[name]["env_file"] == [{"path": ".env", "required": False}]
        environment = services[name]["environment"]
        assert ":?" in environment["SECRET_KEY"] and ":?" in environment["CANOPY_PUBLIC_URL"]
        assert environment["CANOPY_TRUSTED_PROXY_HOPS"] == "${CANOPY_TRUSTED_PROXY_HOPS:-0}"


def _settings_read() -> set[str]:
    source = (ROOT / "community" / "settings.py").read_text(encoding="utf-8")
    return set(re.findall(r'\benv_[a-z]+\(\s*"([A-Z][A-Z0-9_]*)"', source))


def test_env_example_lists_every_variable_the_settings_read():
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    read = _settings_read()
    assert len(read) > 40  # the pattern still finds them
    assert read - listed == set(), "add these to .env.example"
    assert listed - read <= {"PORT", "POSTGRES_PASSWORD"}, "these are read by nothing"


def test_the_image_build_loads_production_settings_without_the_real_values():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    build = re.search(r"RUN (CANOPY_ENV=production.*?) \\\n\s*(SECRET_KEY=\S+)", dockerfile)
    env = dict(item.split("=", 1) for item in shlex.split(build.group(1) + " " + build.group(2)))
    assert env["CANOPY_PUBLIC_URL"].endswith(".invalid")
    result = start(**env)
    assert result.returncode == 0, result.stderr
    assert GOOD_KEY not in env.values()


def test_the_image_builds_static_files_and_translations():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "collectstatic --noinput" in dockerfile and "compilemessages" in dockerfile
    assert "requirements.txt" in dockerfile
