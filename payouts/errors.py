"""Payouts' domain errors; labeling's one exception handler maps them to HTTP."""

from labeling.errors import DomainError


class WithdrawalRefused(DomainError):
    default_detail = "This withdrawal is not possible."


class DepositRefused(DomainError):
    default_detail = "This deposit is not possible."


class BackendNotFake(DomainError):
    status_code = 404
    default_detail = "Only the fake Lightning backend can simulate payments."


class InvoiceRefused(Exception):
    """A wallet's invoice is refused; the message is the LNURL ERROR reason."""
