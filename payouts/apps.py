from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "payouts"
    verbose_name = "Payouts"

    def ready(self) -> None:
        from labeling.balances import register_balance_provider

        from . import receivers  # noqa: F401  (connects the money flow to labeling's signals)
        from .selectors import worker_available_msat

        register_balance_provider(worker_available_msat)
