from django.apps import AppConfig


class RewardmodelConfig(AppConfig):
    name = "rewardmodel"
    verbose_name = "Reward models and RLHF"

    def ready(self) -> None:
        # "Train a reward model" on the batch list: labeling must not import rewardmodel,
        # so the action is added from here.
        # Registers the jobs that services queue by name (core.jobs).
        from . import tasks  # noqa: F401
        from .admin import add_batch_actions

        add_batch_actions()
