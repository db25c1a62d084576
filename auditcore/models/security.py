"""Failed logins, counted per username and client address, for the login throttle."""

from django.db import models


class LoginThrottle(models.Model):
    """Failures of one username from one address within the current window; a lock when too many."""

    username = models.CharField(max_length=150)
    ip = models.CharField(max_length=64)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["username", "ip"], name="login_throttle_username_ip")
        ]

    def __str__(self) -> str:
        return f"{self.username}@{self.ip}: {self.failures}"
