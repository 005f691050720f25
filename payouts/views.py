"""Worker pages about identity and money: sign-in with a wallet, earnings."""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_POST

from core.hostile import whole_number
from core.throttles import LoginRateThrottle, throttle_view
from labeling.models import Rating, Worker
from labeling.permissions import for_workers
from labeling.selectors import worker_earnings

from . import lnurl_withdraw, selectors, wallet
from .errors import WithdrawalRefused
from .models import LightningAddress, Withdrawal
from .qr import qr_svg
from .services import lightning_address, lnurl_auth, withdrawals


def demo_wallet_enabled() -> bool:
    return settings.DEBUG and settings.LIGHTNING_BACKEND == "fake"


def phones_can_sign_in(base_url: str) -> bool:
    """Whether a phone's wallet can use LNURLs on `base_url`: wallets accept https (plain
    http only for .onion), at an address other than this computer's own."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if host.endswith(".onion"):
        return parts.scheme in ("http", "https")
    if parts.scheme != "https" or host in ("", "localhost") or host.endswith(".localhost"):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True  # a host name
    return not (address.is_loopback or address.is_unspecified)


@gzip_page
@throttle_view(LoginRateThrottle, methods=("GET",))  # each view makes a challenge
def login_page(request: HttpRequest) -> HttpResponse:
    if hasattr(request.user, "worker"):
        return redirect("work")
    if not request.session.session_key:
        request.session.create()  # the challenge answers only this browser's poll
    offer = lnurl_auth.create_challenge(session_key=request.session.session_key or "")
    return render(
        request,
        "payouts/login.html",
        {
            "offer": offer,
            "qr": qr_svg(offer.lnurl),
            "demo_wallet": demo_wallet_enabled(),
            "unreachable_base_url": (
                None if phones_can_sign_in(settings.PUBLIC_BASE_URL) else settings.PUBLIC_BASE_URL
            ),
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
    """Signs out this browser and revokes the API token; `everywhere` ends every session."""
    if request.user.is_authenticated:
        everywhere = bool(request.POST.get("everywhere"))
        lnurl_auth.sign_out(user=request.user, everywhere=everywhere)
    logout(request)
    return redirect("login")


def shown_withdrawal(request: HttpRequest, worker: object) -> Withdrawal | None:
    """The withdrawal to follow on the page: the one just made, else one still in flight."""
    mine = Withdrawal.objects.filter(worker=worker)
    wanted = whole_number(request.GET.get("withdrawal", ""))
    if wanted is not None:
        chosen = mine.filter(id=wanted).first()
        if chosen is not None:
            return chosen
    return mine.filter(status__in=[Withdrawal.Status.OPEN, Withdrawal.Status.PAYING]).first()


@gzip_page
@login_required
@for_workers
def earnings_page(request: HttpRequest, worker: Worker) -> HttpResponse:
    ratings = Rating.objects.filter(worker=worker).select_related("batch").order_by("-id")[:100]
    withdrawal = shown_withdrawal(request, worker)
    balances = selectors.worker_balances(worker=worker)
    context = {
        "balances": balances,
        "balance_msat": balances["available_msat"],  # the header's balance
        "earnings": worker_earnings(worker=worker),
        "ratings": ratings,
        "withdrawal": withdrawal,
        "withdrawals": Withdrawal.objects.filter(worker=worker)[:20],
        "lightning_address": LightningAddress.objects.filter(worker=worker).first(),
    }
    if withdrawal is not None and withdrawal.status == Withdrawal.Status.OPEN:
        links = lnurl_withdraw.links(withdrawal)
        context.update(links=links, qr=qr_svg(links["lnurl"]))
    return render(request, "payouts/earnings.html", context)


@login_required
@require_POST
@for_workers
def withdraw_start(request: HttpRequest, worker: Worker) -> HttpResponse:
    """The Withdraw button: holds the amount and shows its LNURL on the earnings page."""
    raw = request.POST.get("amount_sats", "").strip().replace(",", "")
    amount_sats = whole_number(raw, max_digits=15)
    if raw and amount_sats is None:
        messages.error(request, _("Give a whole number of sats."))
        return redirect("earnings")
    # None: the whole balance, in whole sats
    amount_msat = amount_sats * 1000 if amount_sats is not None else None
    try:
        withdrawal = withdrawals.create_withdrawal(worker=worker, amount_msat=amount_msat)
    except WithdrawalRefused as refused:
        messages.error(request, refused.message())
        return redirect("earnings")
    return redirect(f"{reverse('earnings')}?withdrawal={withdrawal.id}#withdraw")


@login_required
@require_POST
@for_workers
def lightning_address_form(request: HttpRequest, worker: Worker) -> HttpResponse:
    """Sets (or, empty, removes) the worker's Lightning Address for automatic payouts."""
    address = request.POST.get("address", "").strip()
    if not address:
        lightning_address.remove_lightning_address(worker=worker)
        return redirect("earnings")
    try:
        lightning_address.set_lightning_address(worker=worker, address=address)
    except WithdrawalRefused as refused:
        messages.error(request, refused.message())
    return redirect(f"{reverse('earnings')}#lightning-address")
