"""The one error type the domain raises for a user to read."""

from typing import Any

# ApplicationError.extra["code"]: what went wrong, for the web layer to choose its answer.
# A raise site may use a narrower code of its own (the review service's "lease_lost", …).
INVALID = "invalid"
# The object the caller names does not exist (or is not theirs to see): a 404 in pages and API.
NOT_FOUND = "not_found"


class ApplicationError(Exception):
    """A refusal with a message for the user and an `extra` of one agreed shape.

    `extra` always holds "field", the input at fault (None when no one field is), and "code",
    INVALID unless the raise site says otherwise; a raise site may add facts of its own
    (e.g. the id of the verdict that stands).
    """

    def __init__(self, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = {"field": None, "code": INVALID, **(extra or {})}

    @property
    def field(self) -> str | None:
        return self.extra["field"]

    @property
    def code(self) -> str:
        return self.extra["code"]
