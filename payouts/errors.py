"""Payouts' domain errors (money); core.errors maps every DomainError to its HTTP status."""

from core.errors import DomainError


class InsufficientBalance(DomainError):
    status_code = 402
    default_detail = "The balance does not cover this amount."


class BalanceOutOfRange(DomainError):
    default_detail = "The amount would take a balance out of range."


class WithdrawalRefused(DomainError):
    default_detail = "This withdrawal is not possible."


class DepositRefused(DomainError):
    default_detail = "This deposit is not possible."


class BackendNotFake(DomainError):
    status_code = 404
    default_detail = "Only the fake Lightning backend can simulate payments."


class InvoiceNotPayable(DomainError):
    default_detail = "This invoice cannot be paid."


class LoginNotFound(DomainError):
    status_code = 404
    default_detail = "Unknown or expired login code."


class LoginGone(DomainError):
    status_code = 410
    default_detail = "The token for this login code was already handed out."


class InvoiceRefused(Exception):
    """A wallet's invoice is refused; the message is the LNURL ERROR reason."""
