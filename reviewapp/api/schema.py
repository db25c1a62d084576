"""OpenAPI generation: unique component names for nested serializers, and the error body."""

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """The one error body of every failure."""

    message = serializers.CharField()
    extra = serializers.DictField(
        help_text=(
            'A refusal by the service: {"field": the input at fault or null, "code": "invalid", '
            '"not_found" (answered 404) or a narrower code, and facts of its own}. A request '
            'that does not parse: {"fields": {name: [reasons]}}.'
        )
    )


ERROR_CODES = ("400", "401", "403", "429")


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "reviewapp.api.auth.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token from your profile page: `Authorization: Bearer ra_…`.",
        }


_METHODS = ("get", "post", "put", "patch", "delete")


class ApiAutoSchema(AutoSchema):
    def get_operation_id(self) -> str:
        """The view's name in snake case (RoundPreviewApi: round_preview), plus the method when
        one view answers several."""
        name = re.sub(r"Api$", "", self.view.__class__.__name__)
        base = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        methods = [m for m in _METHODS if hasattr(self.view, m)]
        return f"{base}_{self.method.lower()}" if len(methods) > 1 else base

    def get_serializer_name(self, serializer, direction) -> str:
        # Views nest plain InputSerializer/OutputSerializer classes: name them by their view.
        cls = serializer.__class__
        if "." in cls.__qualname__:
            return cls.__qualname__.replace(".", "").replace("Api", "", 1)
        return cls.__name__

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction=direction)
        codes = list(ERROR_CODES)
        if "{" in self.path:
            codes.append("404")
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(ErrorSerializer, code)
        return responses


def natural_path_ids(result, generator, request, public):
    """Postprocessing hook: ids in paths are natural numbers (the URL patterns match no sign)."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter.get("in") == "path" and schema.get("type") == "integer":
                    schema["minimum"] = 0
    return result
