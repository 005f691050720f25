"""Rate limits per client address, counted in Django's cache (shared across processes when
CACHE_URL points at Redis). Each limit is a setting in DRF's syntax; empty turns it off."""

import math
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import SimpleRateThrottle


class AddressRateThrottle(SimpleRateThrottle):
    """Counts requests per client address in the scope; the rate is read from the setting
    named `rate_setting` on every request, so tests and deployments can change it."""

    rate_setting = ""

    def __init__(self) -> None:  # DRF reads the rate here; ours is read per request
        pass

    def get_rate(self) -> str | None:
        return getattr(settings, self.rate_setting) or None

    def allow_request(self, request: Any, view: Any) -> bool:
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def wait(self) -> float:
        """Whole seconds until the next request is allowed (at least 1: DRF's `Retry-After`
        header drops the fraction, and `0` would invite an immediate retry)."""
        return max(1, math.ceil(super().wait() or 1))

    def retry_after(self) -> str:
        return str(int(self.wait()))


class LoginRateThrottle(AddressRateThrottle):
    """Login challenges and the admin login."""

    scope = "login"
    rate_setting = "RATE_LIMIT_LOGIN"


class LnurlRateThrottle(AddressRateThrottle):
    """Wallet callbacks: LNURL-auth and LNURL-withdraw."""

    scope = "lnurl"
    rate_setting = "RATE_LIMIT_LNURL"


def throttle_view(
    throttle_class: type[AddressRateThrottle], *, methods: tuple[str, ...] = ("POST",)
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Throttles a plain Django view (the admin login, the login page) as DRF would:
    429 with `Retry-After` once the address is over the limit."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        def throttled(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            throttle = throttle_class()
            if request.method in methods and not throttle.allow_request(request, view):
                return HttpResponse(
                    "Too many attempts from your address; try again later.\n",
                    status=429,
                    content_type="text/plain; charset=utf-8",
                    headers={"Retry-After": throttle.retry_after()},
                )
            return view(request, *args, **kwargs)

        throttled.__name__ = getattr(view, "__name__", "throttled")
        throttled.__doc__ = view.__doc__
        return throttled

    return decorate
