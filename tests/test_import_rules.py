"""The arrows run one way: web (reviewapp) → tasks → services → selectors → models → pure modules.

Read from the source with `ast`, lazy imports inside functions included, so a rule broken anywhere
in auditcore/ or reviewapp/ fails here.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("auditcore", "reviewapp")

# Plain data in, plain data out: tested without a database, so they import no framework and
# no part of auditcore that does.
PURE = {
    "auditcore.consistency",
    "auditcore.csvsafe",
    "auditcore.demo_data",
    "auditcore.detection",
    "auditcore.detection.baseline",
    "auditcore.detection.category",
    "auditcore.detection.corpus",
    "auditcore.detection.default_policy",
    "auditcore.detection.literal_sets",
    "auditcore.detection.report",
    "auditcore.detection.response",
    "auditcore.detection.tiers",
    "auditcore.estimate_frame",
    "auditcore.exceptions",
    "auditcore.ingest",
    "auditcore.ingest.fields",
    "auditcore.ingest.parsers",
    "auditcore.ingest.pipeline",
    "auditcore.ingest.redaction",
    "auditcore.ingest.validation",
    "auditcore.lazy",
    "auditcore.policy_lint",
    "auditcore.rates",
    "auditcore.replay",
    "auditcore.replay.client",
    "auditcore.replay.corpus_io",
    "auditcore.sampling",
    "auditcore.stats",
    "auditcore.trigger_words",
}
FRAMEWORKS = ("django", "rest_framework", "drf_spectacular", "django_htmx", "celery", "kombu")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, str]:
    """Every module of the two packages, migrations left out, by dotted name."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                modules[_module_name(path)] = path.read_text(encoding="utf-8")
    return modules


def _is_package(module: str, modules: dict[str, str]) -> bool:
    return any(other.startswith(module + ".") for other in modules)


def imports_of(module: str, source: str, modules: dict[str, str]) -> set[str]:
    """The dotted names a module imports; `from a import b` names a.b when that is a module."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module if _is_package(module, modules) else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            found.add(base)
            found.update(
                f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules
            )
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(modules: dict[str, str]) -> list[str]:
    """One line per import that runs the wrong way."""
    found = []
    for module, source in sorted(modules.items()):
        for name in sorted(imports_of(module, source, modules)):
            broken = _broken_rule(module, name)
            if broken:
                found.append(f"{module} imports {name}: {broken}")
    return found


def _broken_rule(module: str, name: str) -> str | None:
    if module in PURE:
        if any(_within(name, framework) for framework in FRAMEWORKS):
            return "a pure module imports no framework"
        if _within(name, "auditcore") and name != "auditcore" and name not in PURE:
            return "a pure module imports only pure modules"
    if _within(module, "auditcore"):
        if _within(name, "reviewapp"):
            return "auditcore never imports the web layer"
        if _within(name, "celery") and module != "auditcore.tasks":
            return "tasks.py is the only module that knows Celery"
    if _within(module, "auditcore.selectors") and (
        _within(name, "auditcore.services") or _within(name, "auditcore.tasks")
    ):
        return "a selector imports no service or task"
    if _within(module, "auditcore.services") and _within(name, "auditcore.tasks"):
        return "a service never queues; its caller calls tasks.<job>_enqueue"
    return None


def test_every_import_in_auditcore_and_reviewapp_runs_one_way():
    assert violations(source_modules()) == []


def test_every_listed_pure_module_exists():
    modules = source_modules()
    assert sorted(PURE - set(modules)) == []


# The rules themselves must be able to fail: each synthetic tree below breaks one.
SYNTHETIC = {
    "auditcore": "",
    "auditcore.models": "",
    "auditcore.tasks": "from celery import shared_task\nfrom auditcore.services import rounds",
    "auditcore.services": "",
    "auditcore.services.rounds": "",
    "auditcore.selectors": "",
    "auditcore.sampling": "",
    "reviewapp": "",
    "reviewapp.views": "from auditcore import tasks",
}


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        (
            "auditcore.stats",
            "from django.db import models",
            "auditcore.stats imports django.db: a pure module imports no framework",
        ),
        (
            "auditcore.stats",
            "def f():\n    from auditcore.models import AuditRound",
            "auditcore.stats imports auditcore.models: a pure module imports only pure modules",
        ),
        (
            "auditcore.selectors.policy",
            "from auditcore.services.rounds import round_draw",
            "auditcore.selectors.policy imports auditcore.services.rounds: "
            "a selector imports no service or task",
        ),
        (
            "auditcore.selectors.health",
            "from auditcore import tasks",
            "auditcore.selectors.health imports auditcore.tasks: "
            "a selector imports no service or task",
        ),
        (
            "auditcore.selectors.health",
            "from .. import tasks",
            "auditcore.selectors.health imports auditcore.tasks: "
            "a selector imports no service or task",
        ),
        (
            "auditcore.services.review",
            "def submit():\n    from auditcore import tasks",
            "auditcore.services.review imports auditcore.tasks: "
            "a service never queues; its caller calls tasks.<job>_enqueue",
        ),
        (
            "auditcore.charts",
            "import reviewapp.forms",
            "auditcore.charts imports reviewapp.forms: auditcore never imports the web layer",
        ),
        (
            "auditcore.services.review",
            "from celery import shared_task",
            "auditcore.services.review imports celery: "
            "tasks.py is the only module that knows Celery",
        ),
    ],
)
def test_an_import_that_runs_the_wrong_way_is_reported(module, source, expected):
    assert violations(SYNTHETIC) == []
    assert violations({**SYNTHETIC, module: source}) == [expected]


def test_the_readme_layout_names_only_modules_that_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([\w/]+(?:\.py|/))`", layout))
    assert "estimate_frame.py" in named
    where = [ROOT, ROOT / "auditcore", ROOT / "auditcore" / "selectors", ROOT / "reviewapp"]
    missing = sorted(n for n in named if not any((base / n).exists() for base in where))
    assert missing == []
