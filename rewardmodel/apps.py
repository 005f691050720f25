from django.apps import AppConfig


class RewardmodelConfig(AppConfig):
    name = "rewardmodel"
    verbose_name = "Reward models and RLHF"

    def ready(self) -> None:
        # "Train a reward model" on the batch list: labeling must not import rewardmodel,
        # so the action is added from here.
        from .admin import add_batch_actions

        add_batch_actions()
