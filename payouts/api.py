"""Payouts API (see API.md): worker login (LNURL-auth), node info, the worker's account,
requester balances and deposits, and LNURL-withdraw."""

import math
from typing import Any

from django.contrib.auth import login, logout
from django.http import HttpResponse, JsonResponse
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import (
    BAD_CREDENTIALS,
    BAD_REQUEST,
    SIGNED_IN_ONLY,
    ErrorDetailSerializer,
    NotFound,
)
from core.query import query_flag
from core.throttles import LnurlRateThrottle, LoginRateThrottle
from labeling import selectors as labeling_selectors
from labeling.permissions import IsRequester, IsWorker

from . import ledger, lnurl_withdraw, selectors
from .errors import InvoiceRefused
from .lightning import get_backend
from .models import Deposit, LightningAddress, Withdrawal
from .qr import qr_svg
from .services import demo_wallet, deposits, lightning_address, lnurl_auth, withdrawals


class LnurlStatusSerializer(serializers.Serializer):
    """LNURL endpoints answer 200 with a status, as wallets expect (LUD-03/04)."""

    status = serializers.ChoiceField(choices=["OK", "ERROR"])
    reason = serializers.CharField(required=False, help_text="Only with ERROR.")


def lnurl_ok() -> JsonResponse:
    return JsonResponse(LnurlStatusSerializer({"status": "OK"}).data)


def lnurl_error(reason: str, status: int = 200) -> JsonResponse:
    body = LnurlStatusSerializer({"status": "ERROR", "reason": reason}).data
    return JsonResponse(body, status=status)


class LnurlView(APIView):
    """A wallet's endpoint: no auth, throttled per address, and over the limit it answers
    an LNURL ERROR (HTTP 429, `Retry-After`), the body wallets show their user."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [LnurlRateThrottle]

    def handle_exception(self, exc: Exception) -> HttpResponse:
        if isinstance(exc, exceptions.Throttled):
            response = lnurl_error("Too many requests; try again later.", status=429)
            response["Retry-After"] = str(math.ceil(exc.wait or 1))
            return response
        return super().handle_exception(exc)


LNURL_THROTTLED = {429: LnurlStatusSerializer}
THROTTLED = {429: ErrorDetailSerializer}


class LnurlAuthOfferSerializer(serializers.Serializer):
    k1 = serializers.CharField()
    lnurl = serializers.CharField()
    url = serializers.URLField()
    expires_at = serializers.DateTimeField()
    poll_key = serializers.CharField(
        help_text="Secret: send it as `?poll_key=` when polling without this session's cookie."
    )


def session_key_of(request: Request) -> str:
    """The browser session's key, creating the session (and its cookie) if there is none."""
    session = request._request.session
    if not session.session_key:
        session.create()
    return session.session_key or ""


class LnurlAuthCreateView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [LoginRateThrottle]

    @extend_schema(request=None, responses={201: LnurlAuthOfferSerializer, **THROTTLED})
    def post(self, request: Request) -> Response:
        offer = lnurl_auth.create_challenge(session_key=session_key_of(request))
        return Response(LnurlAuthOfferSerializer(offer).data, status=status.HTTP_201_CREATED)


class LnurlAuthCallbackView(LnurlView):
    """Called by the wallet with its signature of k1."""

    @extend_schema(responses={200: LnurlStatusSerializer, **LNURL_THROTTLED})
    def get(self, request: Request) -> JsonResponse:
        params = request.query_params
        if params.get("tag", "login") != "login":
            return lnurl_error("Unsupported tag.")
        missing = [name for name in ("k1", "sig", "key") if not params.get(name)]
        if missing:
            return lnurl_error(f"Missing parameter(s): {', '.join(missing)}.")
        try:
            lnurl_auth.verify_login(k1=params["k1"], sig=params["sig"], key=params["key"])
        except lnurl_auth.LoginRefused as refused:
            return lnurl_error(str(refused))
        return lnurl_ok()


class LoginPendingSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["pending"])


class LoginDoneSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok"])
    token = serializers.CharField(help_text="API token: `Authorization: Token <token>`.")
    worker_id = serializers.IntegerField()


class LnurlAuthPollView(APIView):
    """Polled by the client that asked for the k1 (its browser session, or `?poll_key=`);
    hands it the token once the wallet signed, and logs that browser in."""

    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[OpenApiParameter("poll_key", str, description="The offer's `poll_key`.")],
        responses={
            200: LoginDoneSerializer,
            202: LoginPendingSerializer,
            404: ErrorDetailSerializer,
            410: ErrorDetailSerializer,
            **BAD_CREDENTIALS,
        },
    )
    def get(self, request: Request, k1: str) -> Response:
        worker = lnurl_auth.poll(
            k1=k1,
            session_key=request._request.session.session_key or "",
            poll_key=request.query_params.get("poll_key", ""),
        )
        if worker is None:
            pending = LoginPendingSerializer({"status": "pending"})
            return Response(pending.data, status=status.HTTP_202_ACCEPTED)
        if request.user != worker.user:
            login(
                request._request, worker.user, backend="django.contrib.auth.backends.ModelBackend"
            )
        done = {"status": "ok", "token": lnurl_auth.token_for(worker), "worker_id": worker.id}
        return Response(LoginDoneSerializer(done).data)


class LogoutView(APIView):
    """Revokes the caller's API token (and ends this browser session, if it is one);
    `?everywhere=1` also ends every browser session the user signed in with."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        parameters=[OpenApiParameter("everywhere", bool, description="Sign out everywhere.")],
        responses={204: None, 400: BAD_REQUEST, **BAD_CREDENTIALS},
    )
    def post(self, request: Request) -> Response:
        everywhere = query_flag(request.query_params, "everywhere")
        lnurl_auth.sign_out(user=request.user, everywhere=everywhere)
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LightningInfoSerializer(serializers.Serializer):
    backend = serializers.ChoiceField(choices=["fake", "lnd", "cln", "lnbits"])
    network = serializers.ChoiceField(choices=["bitcoin", "testnet", "signet", "regtest"])


class LightningInfoView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: LightningInfoSerializer, **BAD_CREDENTIALS})
    def get(self, request: Request) -> Response:
        return Response(LightningInfoSerializer(get_backend().info()).data)


class MeSerializer(serializers.Serializer):
    worker_id = serializers.IntegerField()
    linking_key = serializers.CharField()
    balance_msat = serializers.IntegerField(help_text="What can be withdrawn now.")
    pending_msat = serializers.IntegerField()
    earned_msat = serializers.IntegerField()
    ratings_count = serializers.IntegerField()


class MeView(APIView):
    permission_classes = [IsWorker]

    @extend_schema(responses={200: MeSerializer, **SIGNED_IN_ONLY})
    def get(self, request: Request) -> Response:
        worker = request.user.worker
        balances = selectors.worker_balances(worker=worker)
        earnings = labeling_selectors.worker_earnings(worker=worker)
        me = {
            "worker_id": worker.id,
            "linking_key": worker.linking_key,
            "balance_msat": balances["available_msat"],
            "pending_msat": balances["pending_msat"],
            "earned_msat": earnings["earned_msat"],
            "ratings_count": earnings["ratings_count"],
        }
        return Response(MeSerializer(me).data)


# --- requester money: balances and deposits --------------------------------------------


class RequesterBalancesSerializer(serializers.Serializer):
    balance_msat = serializers.IntegerField()
    reserved_msat = serializers.IntegerField()
    spent_msat = serializers.IntegerField()


class RequesterView(APIView):
    permission_classes = [IsRequester]

    @extend_schema(responses={200: RequesterBalancesSerializer, **SIGNED_IN_ONLY})
    def get(self, request: Request) -> Response:
        balances = selectors.requester_balances(requester=request.user.requester)
        return Response(RequesterBalancesSerializer(balances).data)


class AmountInSerializer(serializers.Serializer):
    amount_msat = serializers.IntegerField(min_value=1, max_value=ledger.MAX_AMOUNT_MSAT)


class OptionalAmountInSerializer(serializers.Serializer):
    amount_msat = serializers.IntegerField(
        min_value=1, max_value=ledger.MAX_AMOUNT_MSAT, required=False
    )

    def to_internal_value(self, data: Any) -> Any:
        # "1.5" and 1.5 are not whole msat; DRF would silently accept "1" and 1.0.
        value = data.get("amount_msat") if hasattr(data, "get") else None
        if value is not None and (isinstance(value, bool | float) or not _is_integer(value)):
            raise serializers.ValidationError({"amount_msat": ["A whole number of msat."]})
        return super().to_internal_value(data)


def _is_integer(value: Any) -> bool:
    if isinstance(value, int):
        return True
    return isinstance(value, str) and value.strip().lstrip("-").isdigit()


class DepositOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    amount_msat = serializers.IntegerField()
    bolt11 = serializers.CharField()
    payment_hash = serializers.CharField()
    status = serializers.CharField()
    expires_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)


def _own_deposit(request: Request, deposit_id: int) -> Deposit:
    deposit = Deposit.objects.filter(id=deposit_id, requester=request.user.requester).first()
    if deposit is None:
        raise NotFound("No such deposit.")
    return deposit


class DepositCreateView(APIView):
    permission_classes = [IsRequester]

    @extend_schema(
        request=AmountInSerializer,
        responses={201: DepositOutSerializer, 400: BAD_REQUEST, **SIGNED_IN_ONLY},
    )
    def post(self, request: Request) -> Response:
        data = AmountInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        deposit = deposits.create_deposit(
            requester=request.user.requester, amount_msat=data.validated_data["amount_msat"]
        )
        return Response(DepositOutSerializer(deposit).data, status=status.HTTP_201_CREATED)


class DepositDetailView(APIView):
    permission_classes = [IsRequester]

    @extend_schema(
        responses={200: DepositOutSerializer, 404: ErrorDetailSerializer, **SIGNED_IN_ONLY}
    )
    def get(self, request: Request, deposit_id: int) -> Response:
        deposit = deposits.refresh_deposit(deposit=_own_deposit(request, deposit_id))
        return Response(DepositOutSerializer(deposit).data)


class DepositSimulatePaymentView(APIView):
    permission_classes = [IsRequester]

    @extend_schema(
        request=None,
        responses={200: DepositOutSerializer, 404: ErrorDetailSerializer, **SIGNED_IN_ONLY},
    )
    def post(self, request: Request, deposit_id: int) -> Response:
        deposit = deposits.simulate_deposit_payment(deposit=_own_deposit(request, deposit_id))
        return Response(DepositOutSerializer(deposit).data)


class FakePayInSerializer(serializers.Serializer):
    bolt11 = serializers.CharField(max_length=4000)


class FakePayOutSerializer(serializers.Serializer):
    preimage = serializers.CharField(help_text="64 hex: the proof of payment (L402's preimage).")


class FakePayView(APIView):
    """The fake node's demo wallet: pays one of its invoices (L402 credit, a deposit)."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(
        request=FakePayInSerializer,
        responses={200: FakePayOutSerializer, 400: BAD_REQUEST, 404: ErrorDetailSerializer},
    )
    def post(self, request: Request) -> Response:
        data = FakePayInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        preimage = demo_wallet.pay_fake_invoice(bolt11=data.validated_data["bolt11"])
        return Response(FakePayOutSerializer({"preimage": preimage}).data)


# --- worker withdrawals (LNURL-withdraw, LUD-03) ---------------------------------------


class WithdrawalOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    amount_msat = serializers.IntegerField()
    fee_msat = serializers.IntegerField()
    payment_hash = serializers.CharField(allow_null=True)
    preimage = serializers.CharField(allow_blank=True)
    expires_at = serializers.DateTimeField()


class WithdrawalCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    lnurl = serializers.CharField()
    lightning_uri = serializers.CharField()
    lnurlw_uri = serializers.CharField()
    amount_msat = serializers.IntegerField()
    status = serializers.CharField()
    expires_at = serializers.DateTimeField()
    qr_svg = serializers.CharField()


def withdrawal_created_body(withdrawal: Withdrawal) -> dict[str, Any]:
    links = lnurl_withdraw.links(withdrawal)
    return {
        "id": withdrawal.id,
        **links,
        "amount_msat": withdrawal.amount_msat,
        "status": withdrawal.status,
        "expires_at": withdrawal.expires_at,
        "qr_svg": qr_svg(links["lnurl"]),
    }


class WithdrawalCreateView(APIView):
    permission_classes = [IsWorker]

    @extend_schema(
        request=OptionalAmountInSerializer,
        responses={201: WithdrawalCreatedSerializer, 400: BAD_REQUEST, **SIGNED_IN_ONLY},
    )
    def post(self, request: Request) -> Response:
        data = OptionalAmountInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        withdrawal = withdrawals.create_withdrawal(
            worker=request.user.worker, amount_msat=data.validated_data.get("amount_msat")
        )
        created = WithdrawalCreatedSerializer(withdrawal_created_body(withdrawal))
        return Response(created.data, status=status.HTTP_201_CREATED)


class WithdrawalDetailView(APIView):
    permission_classes = [IsWorker]

    @extend_schema(
        responses={200: WithdrawalOutSerializer, 404: ErrorDetailSerializer, **SIGNED_IN_ONLY}
    )
    def get(self, request: Request, withdrawal_id: int) -> Response:
        withdrawal = Withdrawal.objects.filter(id=withdrawal_id, worker=request.user.worker).first()
        if withdrawal is None:
            raise NotFound("No such withdrawal.")
        return Response(WithdrawalOutSerializer(withdrawal).data)


class WithdrawRequestSerializer(serializers.Serializer):
    """LUD-03's withdrawRequest; min and max are both the held amount."""

    tag = serializers.ChoiceField(choices=["withdrawRequest"])
    callback = serializers.URLField()
    k1 = serializers.CharField()
    defaultDescription = serializers.CharField()  # LUD-03 names its fields in camelCase
    minWithdrawable = serializers.IntegerField()
    maxWithdrawable = serializers.IntegerField()


class LnurlWithdrawRequestView(LnurlView):
    """What the wallet reads after decoding the LNURL: a withdrawRequest."""

    @extend_schema(
        responses={
            200: PolymorphicProxySerializer(
                component_name="WithdrawRequestOrError",
                serializers=[WithdrawRequestSerializer, LnurlStatusSerializer],
                resource_type_field_name=None,
            ),
            **LNURL_THROTTLED,
        }
    )
    def get(self, request: Request, k1: str) -> JsonResponse:
        try:
            withdrawal = withdrawals.open_withdrawal(k1=k1)
        except InvoiceRefused as refused:
            return lnurl_error(str(refused))
        offer = WithdrawRequestSerializer(lnurl_withdraw.withdraw_request(withdrawal))
        return JsonResponse(offer.data)


class LnurlWithdrawCallbackView(LnurlView):
    """The wallet sends its invoice: `?k1=…&pr=…`."""

    @extend_schema(responses={200: LnurlStatusSerializer, **LNURL_THROTTLED})
    def get(self, request: Request) -> JsonResponse:
        k1 = request.query_params.get("k1", "")
        pr = request.query_params.get("pr", "")
        if not k1 or not pr:
            return lnurl_error("Missing parameter(s): k1 and pr are required.")
        try:
            withdrawals.accept_withdrawal_invoice(k1=k1, pr=pr)
        except InvoiceRefused as refused:
            return lnurl_error(str(refused))
        return lnurl_ok()


# --- Lightning Address for automatic payouts (LUD-16) ----------------------------------


class LightningAddressSerializer(serializers.Serializer):
    address = serializers.CharField(max_length=320)
    threshold_msat = serializers.IntegerField(
        min_value=1_000, max_value=ledger.MAX_AMOUNT_MSAT, default=1_000
    )
    enabled = serializers.BooleanField(read_only=True)
    last_error = serializers.CharField(read_only=True)


class LightningAddressView(APIView):
    """The worker's Lightning Address: balances at or above the threshold are pushed there."""

    permission_classes = [IsWorker]

    @extend_schema(
        responses={200: LightningAddressSerializer, 404: ErrorDetailSerializer, **SIGNED_IN_ONLY}
    )
    def get(self, request: Request) -> Response:
        config = LightningAddress.objects.filter(worker=request.user.worker).first()
        if config is None:
            raise NotFound("No Lightning Address set.")
        return Response(LightningAddressSerializer(config).data)

    @extend_schema(
        request=LightningAddressSerializer,
        responses={200: LightningAddressSerializer, 400: BAD_REQUEST, **SIGNED_IN_ONLY},
    )
    def put(self, request: Request) -> Response:
        data = LightningAddressSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        config = lightning_address.set_lightning_address(
            worker=request.user.worker,
            address=data.validated_data["address"],
            threshold_msat=data.validated_data["threshold_msat"],
        )
        return Response(LightningAddressSerializer(config).data)

    @extend_schema(request=None, responses={204: None, **SIGNED_IN_ONLY})
    def delete(self, request: Request) -> Response:
        lightning_address.remove_lightning_address(worker=request.user.worker)
        return Response(status=status.HTTP_204_NO_CONTENT)
