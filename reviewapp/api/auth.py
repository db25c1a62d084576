"""DRF authentication by API token (`Authorization: Bearer ra_…`), checked against its hash.

Failed attempts are counted per client address; past the `api_auth_failures` rate the client
gets 429 before its token is even looked at, so guessing tokens is slow.
"""

from rest_framework import authentication, exceptions
from rest_framework.throttling import SimpleRateThrottle

from auditcore.services.tokens import api_token_authenticate


class AuthFailureThrottle(SimpleRateThrottle):
    scope = "api_auth_failures"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def blocked(self, request) -> float | None:
        """Seconds to wait when the client failed too often, else None. Records nothing."""
        self.key = self.get_cache_key(request, None)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) >= self.num_requests:
            return self.wait()
        return None

    def record_failure(self) -> None:
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode(errors="replace") not in self.keywords:
            return None
        throttle = AuthFailureThrottle()
        wait = throttle.blocked(request)
        if wait is not None:
            raise exceptions.Throttled(wait)
        if len(header) != 2:
            throttle.record_failure()
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        try:
            key = header[1].decode()
        except UnicodeDecodeError:
            throttle.record_failure()
            raise exceptions.AuthenticationFailed("The token is not valid text.") from None
        user = api_token_authenticate(key=key)
        if user is None:
            throttle.record_failure()
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return user, None

    def authenticate_header(self, request) -> str:
        return "Bearer"
