"""One error body for every API failure: {"message": ..., "extra": {...}}."""

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from auditcore.exceptions import NOT_FOUND, ApplicationError

# A second verdict on an item the caller already judged conflicts with the locked one.
CONFLICT_CODES = {"already_locked"}


def _message(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{k}: {_message(v)}" for k, v in detail.items())
    if isinstance(detail, list):
        return " ".join(_message(v) for v in detail)
    return str(detail)


def api_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        if exc.code == NOT_FOUND:
            code = status.HTTP_404_NOT_FOUND
        elif exc.code in CONFLICT_CODES:
            code = status.HTTP_409_CONFLICT
        else:
            code = status.HTTP_400_BAD_REQUEST
        return Response({"message": exc.message, "extra": exc.extra}, status=code)
    response = exception_handler(exc, context)
    if response is None:
        return None
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    extra = {"fields": detail} if isinstance(detail, dict | list) else {}
    response.data = {"message": _message(detail), "extra": extra}
    return response
