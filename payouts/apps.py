from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "payouts"
    verbose_name = "Payouts"

    def ready(self) -> None:
        # Imported once the models are loaded: receivers connect the money flow to labeling's
        # signals, tasks register the payment jobs that services queue by name.
        from labeling.balances import register_balance_provider

        from . import receivers, tasks  # noqa: F401
        from .selectors import requester_available_msat, worker_available_msat

        register_balance_provider(worker_available_msat, requester_available_msat)
