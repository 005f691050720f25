"""Labeling's domain errors; core.errors maps every DomainError to its HTTP status."""

from core.errors import DomainError


class InvalidAnswer(DomainError):
    default_detail = "The answer does not fit this task."


class InvalidBatch(DomainError):
    default_detail = "The batch is not valid."


class AlreadySubmitted(DomainError):
    status_code = 409
    default_detail = "This assignment was already answered."


class AssignmentClosed(DomainError):
    status_code = 409
    default_detail = "This assignment was skipped or reported."


class AssignmentExpired(DomainError):
    status_code = 410
    default_detail = "This assignment expired; ask for the next task."


class WorkerPaused(DomainError):
    status_code = 403
    default_detail = "Your answers on this batch failed too many checks; it is closed to you."


class NotReviewable(DomainError):
    status_code = 409
    default_detail = "Only ratings waiting for review can be approved or rejected."
