from django.urls import path

from . import views

urlpatterns = [
    path("login/", views.login_page, name="login"),
    path("login/demo-wallet/", views.demo_wallet_login, name="demo-wallet"),
    path("logout/", views.logout_view, name="logout"),
    path("earnings/", views.earnings_page, name="earnings"),
    path("earnings/withdraw/", views.withdraw_start, name="withdraw"),
    path(
        "earnings/lightning-address/",
        views.lightning_address_form,
        name="lightning-address-form",
    ),
]
