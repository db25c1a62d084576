"""The files that start the project: the compose stack, the Makefile's two commands, CI."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_compose_runs_postgres_redis_web_and_a_scalable_worker():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= {"postgres", "redis", "web", "worker"}
    assert "gunicorn reviewapp.wsgi" in services["web"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "reviewapp", "worker"]
    # A fixed container name or host port on the worker would stop `--scale worker=N`.
    assert "container_name" not in services["worker"]
    assert "ports" not in services["worker"]
    for name in ("postgres", "redis", "web", "worker"):
        assert "healthcheck" in services[name], name
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "pgdata" in compose["volumes"]
    for name in ("web", "worker"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://redis:6379")


def test_the_compose_build_and_the_commands_it_names_exist():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install" in dockerfile
    assert (ROOT / "reviewapp" / "wsgi.py").exists()
    assert (ROOT / "reviewapp" / "celery.py").exists()


def test_the_readme_and_ci_use_the_same_two_commands():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make run" in readme
    assert "make test" in readme
    assert "\nrun:" in makefile
    assert "\ntest:" in makefile
    assert "make test" in ci
    assert "pg_ctlcluster --skip-systemctl-redirect" in ci
    assert "redis-server --daemonize yes" in ci


def test_every_setting_read_from_the_environment_is_documented():
    settings_source = (ROOT / "reviewapp" / "settings.py").read_text()
    documented = (ROOT / ".env.example").read_text()
    names = set(re.findall(r'env_(?:str|bool|int|float|list|url)\(\s*"([A-Z_]+)"', settings_source))
    assert names, "no settings found"
    missing = sorted(n for n in names if n not in documented)
    assert not missing, f"undocumented in .env.example: {missing}"
