"""Money and Lightning: login challenges (LNURL-auth) live here too."""

from django.db import models

from labeling.models import Worker


class LoginChallenge(models.Model):
    """One LNURL-auth k1: single use, expiring; `worker` is set once a wallet signed it."""

    k1 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    worker = models.ForeignKey(
        Worker, null=True, blank=True, on_delete=models.CASCADE, related_name="logins"
    )
    signed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"login {self.k1[:12]}…"
