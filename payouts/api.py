"""Worker login (LNURL-auth), node info and the worker's own account (see API.md)."""

from typing import Any

from django.contrib.auth import login
from django.http import JsonResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import selectors as labeling_selectors
from labeling.balances import worker_balance_msat
from labeling.permissions import IsWorker

from . import lnurl_auth
from .lightning import get_backend


def lnurl_error(reason: str) -> JsonResponse:
    """LNURL endpoints answer 200 with a status, as wallets expect (LUD-03/04)."""
    return JsonResponse({"status": "ERROR", "reason": reason})


class LnurlAuthCreateView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(
        request=None,
        responses={
            201: inline_serializer(
                "LnurlAuthOffer",
                {
                    "k1": serializers.CharField(),
                    "lnurl": serializers.CharField(),
                    "url": serializers.URLField(),
                    "expires_at": serializers.DateTimeField(),
                },
            )
        },
    )
    def post(self, request: Request) -> Response:
        offer = lnurl_auth.create_challenge()
        body = {
            "k1": offer.k1,
            "lnurl": offer.lnurl,
            "url": offer.url,
            "expires_at": offer.expires_at,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class LnurlAuthCallbackView(APIView):
    """Called by the wallet with its signature of k1."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(responses={200: dict})
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
        return JsonResponse({"status": "OK"})


class LnurlAuthPollView(APIView):
    """Polled by the page that shows the QR; logs that browser in once the wallet signed."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: dict, 202: dict, 404: dict})
    def get(self, request: Request, k1: str) -> Response:
        try:
            worker = lnurl_auth.poll(k1=k1)
        except LookupError:
            return Response({"detail": "Unknown or expired login code."}, status=404)
        if worker is None:
            return Response({"status": "pending"}, status=status.HTTP_202_ACCEPTED)
        if request.user != worker.user:
            login(
                request._request, worker.user, backend="django.contrib.auth.backends.ModelBackend"
            )
        return Response(
            {"status": "ok", "token": lnurl_auth.token_for(worker), "worker_id": worker.id}
        )


class LightningInfoView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            200: inline_serializer(
                "LightningInfo",
                {"backend": serializers.CharField(), "network": serializers.CharField()},
            )
        }
    )
    def get(self, request: Request) -> Response:
        info = get_backend().info()
        return Response({"backend": info.backend, "network": info.network})


class MeView(APIView):
    permission_classes = [IsWorker]

    @extend_schema(
        responses={
            200: inline_serializer(
                "Me",
                {
                    "worker_id": serializers.IntegerField(),
                    "linking_key": serializers.CharField(),
                    "balance_msat": serializers.IntegerField(),
                    "pending_msat": serializers.IntegerField(),
                    "earned_msat": serializers.IntegerField(),
                    "ratings_count": serializers.IntegerField(),
                },
            )
        }
    )
    def get(self, request: Request) -> Response:
        worker = request.user.worker
        earnings = labeling_selectors.worker_earnings(worker=worker)
        return Response(
            {
                "worker_id": worker.id,
                "linking_key": worker.linking_key,
                "balance_msat": worker_balance_msat(worker),
                **earnings,
            }
        )
