"""Calling the API as a user: a token of theirs in the Authorization header."""

from auditcore.services.tokens import api_token_create


def bearer(user) -> dict[str, str]:
    _, key = api_token_create(user=user, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}
