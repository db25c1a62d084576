"""Every URL the resolver knows, made concrete with an id no object has."""

import re

from django.urls import URLPattern, URLResolver, get_resolver

PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")
REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)")
# An id no object has: allowed roles get 404 (or a form error), never 403.
MISSING_ID = "987654"


def patterns(resolver=None, prefix="", namespace=""):
    """(route template, namespaced name) for every URL pattern, following includes."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = namespace + (f"{entry.namespace}:" if entry.namespace else "")
            yield from patterns(entry, prefix + route, ns)
        elif isinstance(entry, URLPattern):
            yield prefix + route, namespace + (entry.name or f"<unnamed {route}>")


def _concrete(route: str) -> str:
    path = PARAM.sub(MISSING_ID, route)
    path = REGEX_GROUP.sub(MISSING_ID, path)
    path = path.replace("^", "").replace("$", "").replace("\\Z", "").replace("\\", "")
    return "/" + path.lstrip("/")


def _routes() -> list[tuple[str, str]]:
    seen = {}
    for route, name in patterns():
        # Django admin: one representative page; the rest is Django's own tested code.
        if name.startswith("admin:") and name != "admin:index":
            continue
        seen.setdefault(name, _concrete(route))
    return sorted(seen.items())


ROUTES = _routes()
