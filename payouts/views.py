"""Worker pages about identity and money: sign-in with a wallet, earnings."""

import segno
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from labeling.balances import worker_balance_msat
from labeling.models import Rating
from labeling.selectors import worker_earnings

from . import lnurl_auth, wallet


def demo_wallet_enabled() -> bool:
    return settings.DEBUG and settings.LIGHTNING_BACKEND == "fake"


def qr_svg(data: str) -> str:
    return segno.make(data, error="m").svg_inline(scale=5, border=2, dark="#111")


def login_page(request: HttpRequest) -> HttpResponse:
    if hasattr(request.user, "worker"):
        return redirect("work")
    offer = lnurl_auth.create_challenge()
    return render(
        request,
        "payouts/login.html",
        {
            "offer": offer,
            "qr": qr_svg(offer.lnurl),
            "demo_wallet": demo_wallet_enabled(),
        },
    )


@require_POST
def demo_wallet_login(request: HttpRequest) -> JsonResponse:
    """Signs a shown k1 server-side with the local wallet key, as a phone wallet would."""
    if not demo_wallet_enabled():
        raise Http404
    k1 = request.POST.get("k1", "")
    key = wallet.load_or_create_key(settings.WALLET_KEY_FILE)
    try:
        sig, linking_key = wallet.sign_k1(key, k1)
    except ValueError:
        return JsonResponse(
            {"status": "ERROR", "reason": "k1 must be 32 bytes of hex."}, status=400
        )
    try:
        lnurl_auth.verify_login(k1=k1, sig=sig, key=linking_key)
    except lnurl_auth.LoginRefused as refused:
        return JsonResponse({"status": "ERROR", "reason": str(refused)}, status=400)
    return JsonResponse({"status": "OK"})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("login")


@login_required
def earnings_page(request: HttpRequest) -> HttpResponse:
    worker = getattr(request.user, "worker", None)
    if worker is None:
        return redirect("login")
    ratings = Rating.objects.filter(worker=worker).select_related("batch").order_by("-id")[:100]
    return render(
        request,
        "payouts/earnings.html",
        {
            "balance_msat": worker_balance_msat(worker),
            "earnings": worker_earnings(worker=worker),
            "ratings": ratings,
        },
    )
