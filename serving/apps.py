from django.apps import AppConfig


class ServingConfig(AppConfig):
    name = "serving"
    verbose_name = "Serving (pay-per-call models)"

    def ready(self) -> None:
        # Registers the jobs that services queue by name (core.jobs).
        from . import tasks  # noqa: F401
