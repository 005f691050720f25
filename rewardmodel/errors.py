"""Domain errors of training runs; the API and admin show their message as it is."""

from core.errors import DomainError


class InvalidTrainingConfig(DomainError):
    default_detail = "The training configuration is not valid."


class NotYourBatches(DomainError):
    status_code = 403
    default_detail = "You can only train on your own batches."


class TrainingFailed(Exception):
    """A run that cannot go on for a reason its owner can fix (e.g. too few pairs)."""
