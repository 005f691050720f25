from django.apps import AppConfig


class LabelingConfig(AppConfig):
    name = "labeling"
    verbose_name = "Labeling"

    def ready(self) -> None:
        # Registers the jobs that services queue by name (core.jobs).
        from . import tasks  # noqa: F401
