"""Money and Lightning: the ledger, deposits, withdrawals, the fake node's own tables,
and login challenges (LNURL-auth).

All amounts are integer millisatoshis.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from labeling.models import Batch, Requester, Worker


class LoginChallenge(models.Model):
    """One LNURL-auth k1: single use, expiring; `worker` is set once a wallet signed it."""

    k1 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    worker = models.ForeignKey(
        Worker, null=True, blank=True, on_delete=models.CASCADE, related_name="logins"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    # Only the client that asked for the k1 gets the token: its browser session, or whoever
    # holds the poll key (stored as its sha256 hex). The token is handed out once.
    session_key = models.CharField(max_length=40, blank=True, default="")
    poll_key_hash = models.CharField(max_length=64, blank=True, default="")
    token_issued_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"login {self.k1[:12]}…"


class SignedInSession(models.Model):
    """A browser session a user signed in with, so that "sign out everywhere" can end them
    all without decoding every session in the table."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signed_in_sessions"
    )
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"session of user {self.user_id}"


# --- ledger ----------------------------------------------------------------------------


class Account(models.Model):
    """One ledger account. Its key names it (`worker:7:available`), so a transfer knows the
    account ids without reading them. `balance_msat` is a cache of the sum of its entries,
    changed only by `ledger.transfer` in the same transaction as the entries."""

    class Kind(models.TextChoices):
        REQUESTER_AVAILABLE = "requester_available", _("Requester available")
        BATCH_RESERVED = "batch_reserved", _("Reserved for a batch")
        WORKER_PENDING = "worker_pending", _("Worker pending")
        WORKER_AVAILABLE = "worker_available", _("Worker available")
        WORKER_HELD = "worker_held", _("Worker held for withdrawal")
        LIGHTNING_IN = "lightning_in", _("Lightning in (deposits)")
        LIGHTNING_OUT = "lightning_out", _("Lightning out (payouts)")
        FEES = "fees", _("Platform fees")
        SERVING_CREDIT = "serving_credit", _("L402 prepaid credit")
        SERVING_HELD = "serving_held", _("Held for calls in progress")

    key = models.CharField(max_length=64, primary_key=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    requester = models.ForeignKey(
        Requester, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    worker = models.ForeignKey(
        Worker, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    batch = models.ForeignKey(
        Batch, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    # System accounts mirror money outside the platform and run negative (lightning in).
    allow_negative = models.BooleanField(default=False)
    balance_msat = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(allow_negative=True) | Q(balance_msat__gte=0),
                name="account_no_overdraft",
            )
        ]

    def __str__(self) -> str:
        return self.key


class Transfer(models.Model):
    """One movement of money: its entries sum to zero. (kind, reference) is unique, so the
    same event (a rating, a deposit, a withdrawal step) can never move money twice."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", _("Deposit")
        RESERVE = "reserve", _("Batch reservation")
        PAY_RATING = "pay_rating", _("Rating paid")
        HOLD_RATING = "hold_rating", _("Rating held for review")
        APPROVE_HELD = "approve_held", _("Held rating approved")
        REJECT_HELD = "reject_held", _("Held rating rejected")
        RELEASE_BATCH = "release_batch", _("Cancelled batch released")
        WITHDRAWAL_HOLD = "withdrawal_hold", _("Withdrawal held")
        WITHDRAWAL_PAID = "withdrawal_paid", _("Withdrawal paid")
        WITHDRAWAL_RETURN = "withdrawal_return", _("Withdrawal returned")
        L402_CREDIT = "l402_credit", _("L402 credit bought")
        CALL_HOLD = "call_hold", _("Served call: worst case held")
        CALL_SETTLE = "call_settle", _("Served call: charged, rest released")

    kind = models.CharField(max_length=32, choices=Kind.choices)
    reference = models.CharField(max_length=100)
    amount_msat = models.BigIntegerField(help_text=_("Total moved (sum of the credits)."))
    # Indexed by transfer_batch_kind, whose first column it is.
    batch = models.ForeignKey(
        Batch,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transfers",
        db_index=False,
    )
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "reference"], name="transfer_once"),
        ]
        indexes = [models.Index(fields=["batch", "kind"], name="transfer_batch_kind")]

    def __str__(self) -> str:
        return f"{self.kind} {self.reference}"


class Entry(models.Model):
    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="entries")
    # A plain index (below): the pattern-matching twin Django adds for a text key would be
    # written with every entry and read by no query.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    amount_msat = models.BigIntegerField()

    class Meta:
        verbose_name_plural = "entries"
        indexes = [models.Index(fields=["account"], name="entry_account")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount_msat:+d}"


# --- deposits and withdrawals ----------------------------------------------------------


class Deposit(models.Model):
    """A requester's Lightning invoice; paid once, credited once."""

    class Status(models.TextChoices):
        UNPAID = "unpaid", _("Unpaid")
        PAID = "paid", _("Paid")
        EXPIRED = "expired", _("Expired")

    requester = models.ForeignKey(Requester, on_delete=models.PROTECT, related_name="deposits")
    amount_msat = models.PositiveBigIntegerField()
    bolt11 = models.TextField()
    payment_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UNPAID)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["created_at"], name="deposit_unpaid", condition=Q(status="unpaid"))
        ]

    def __str__(self) -> str:
        return f"deposit {self.pk} ({self.amount_msat} msat, {self.status})"


class Withdrawal(models.Model):
    """An LNURL-withdraw: open → paying → paid | failed, or open → expired.

    `paying` is entered once, by a conditional UPDATE on the k1; `send_started_at` is
    claimed the same way before the node is asked to pay, so a row is sent at most once.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PAYING = "paying", _("Paying")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    worker = models.ForeignKey(Worker, on_delete=models.PROTECT, related_name="withdrawals")
    k1 = models.CharField(max_length=64, unique=True)
    amount_msat = models.PositiveBigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    bolt11 = models.TextField(blank=True)
    payment_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    invoice_accepted_at = models.DateTimeField(null=True, blank=True)
    send_started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    fee_msat = models.PositiveBigIntegerField(default=0)
    preimage = models.CharField(max_length=64, blank=True)
    failure_reason = models.TextField(blank=True)
    lightning_address = models.CharField(
        max_length=320, blank=True, help_text=_("Set when pushed to a Lightning Address.")
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["expires_at"], name="withdrawal_open", condition=Q(status="open")),
            models.Index(
                fields=["invoice_accepted_at"],
                name="withdrawal_paying",
                condition=Q(status="paying"),
            ),
        ]

    def __str__(self) -> str:
        return f"withdrawal {self.pk} ({self.amount_msat} msat, {self.status})"


# --- the fake node's own state (shared by web, Celery workers and reconcile) -----------


class FakeNodeInvoice(models.Model):
    payment_hash = models.CharField(max_length=64, primary_key=True)
    bolt11 = models.TextField()
    preimage = models.CharField(max_length=64)
    amount_msat = models.PositiveBigIntegerField()
    memo = models.TextField(blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"fake invoice {self.payment_hash[:12]}…"


class FakeNodePayment(models.Model):
    """One payment the fake node made; one per payment hash (its idempotency key)."""

    payment_hash = models.CharField(max_length=64, primary_key=True)
    bolt11 = models.TextField()
    amount_msat = models.PositiveBigIntegerField()
    fee_msat = models.PositiveBigIntegerField(default=0)
    preimage = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=16)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"fake payment {self.payment_hash[:12]}… {self.state}"


class LightningAddress(models.Model):
    """A worker's Lightning Address (LUD-16) for automatic payouts: whenever the available
    balance reaches `threshold_msat`, the periodic job pushes it there."""

    worker = models.OneToOneField(
        Worker, on_delete=models.CASCADE, related_name="lightning_address"
    )
    address = models.CharField(max_length=320)
    threshold_msat = models.PositiveBigIntegerField(default=1_000)
    enabled = models.BooleanField(default=True)
    last_error = models.TextField(blank=True)
    # Failed pushes in a row; the job skips the address until `retry_at` (backing off).
    failures = models.PositiveIntegerField(default=0)
    retry_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.address
