from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core.throttles import LoginRateThrottle, throttle_view
from labeling import api as labeling_api
from payouts import api as payouts_api
from rewardmodel import api as rewardmodel_api
from serving import api as serving_api

from .health import healthz
from .metrics import metrics

api_v1 = [
    path("lightning/info/", payouts_api.LightningInfoView.as_view(), name="lightning-info"),
    path("auth/lnurl/", payouts_api.LnurlAuthCreateView.as_view(), name="lnurl-auth"),
    path(
        "auth/lnurl/callback/",
        payouts_api.LnurlAuthCallbackView.as_view(),
        name="lnurl-auth-callback",
    ),
    path("auth/lnurl/<str:k1>/", payouts_api.LnurlAuthPollView.as_view(), name="lnurl-auth-poll"),
    path("auth/logout/", payouts_api.LogoutView.as_view(), name="api-logout"),
    path("me/", payouts_api.MeView.as_view(), name="me"),
    path(
        "me/lightning-address/",
        payouts_api.LightningAddressView.as_view(),
        name="lightning-address",
    ),
    path("requester/", payouts_api.RequesterView.as_view(), name="requester"),
    path("deposits/", payouts_api.DepositCreateView.as_view(), name="deposit-create"),
    path(
        "deposits/<int:deposit_id>/",
        payouts_api.DepositDetailView.as_view(),
        name="deposit-detail",
    ),
    path(
        "deposits/<int:deposit_id>/simulate-payment/",
        payouts_api.DepositSimulatePaymentView.as_view(),
        name="deposit-simulate-payment",
    ),
    path("lightning/fake/pay/", payouts_api.FakePayView.as_view(), name="fake-pay"),
    path("served-models/", serving_api.ServedModelListView.as_view(), name="served-models"),
    path(
        "served-models/<int:served_model_id>/",
        serving_api.ServedModelDetailView.as_view(),
        name="served-model-detail",
    ),
    path(
        "served-models/<int:served_model_id>/batches/",
        serving_api.GeneratedBatchView.as_view(),
        name="served-model-batches",
    ),
    path("withdrawals/", payouts_api.WithdrawalCreateView.as_view(), name="withdrawal-create"),
    path(
        "withdrawals/<int:withdrawal_id>/",
        payouts_api.WithdrawalDetailView.as_view(),
        name="withdrawal-detail",
    ),
    path(
        "lnurl/withdraw/callback/",
        payouts_api.LnurlWithdrawCallbackView.as_view(),
        name="lnurl-withdraw-callback",
    ),
    path(
        "lnurl/withdraw/<str:k1>/",
        payouts_api.LnurlWithdrawRequestView.as_view(),
        name="lnurl-withdraw",
    ),
    path("tasks/next/", labeling_api.NextTaskView.as_view(), name="task-next"),
    path(
        "assignments/<int:assignment_id>/submit/",
        labeling_api.SubmitView.as_view(),
        name="assignment-submit",
    ),
    path(
        "assignments/<int:assignment_id>/skip/",
        labeling_api.SkipView.as_view(),
        name="assignment-skip",
    ),
    path(
        "assignments/<int:assignment_id>/report/",
        labeling_api.ReportView.as_view(),
        name="assignment-report",
    ),
    path("batches/", labeling_api.BatchCreateView.as_view(), name="batch-create"),
    path("batches/<int:batch_id>/", labeling_api.BatchDetailView.as_view(), name="batch-detail"),
    path(
        "batches/<int:batch_id>/ratings/",
        labeling_api.BatchRatingsView.as_view(),
        name="batch-ratings",
    ),
    path("ratings/review/", labeling_api.ReviewView.as_view(), name="ratings-review"),
    path(
        "batches/<int:batch_id>/export/",
        labeling_api.BatchExportView.as_view(),
        name="batch-export",
    ),
    path("runs/", rewardmodel_api.RunsView.as_view(), name="runs"),
    path("runs/<int:run_id>/", rewardmodel_api.RunDetailView.as_view(), name="run-detail"),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    # Password guessing on the admin is throttled per address (RATE_LIMIT_LOGIN).
    path("admin/login/", throttle_view(LoginRateThrottle)(admin.site.login), name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("serving.urls")),  # /v1: OpenAI-compatible, base_url=<site>/v1
    path("", include("labeling.urls")),
    path("", include("payouts.urls")),
]

# Errors no view answered: JSON under /api/, LNURL bodies for wallets (core/errors.py).
handler400 = "core.errors.bad_request"
handler403 = "core.errors.permission_denied"
handler404 = "core.errors.page_not_found"
handler500 = "core.errors.server_error"
