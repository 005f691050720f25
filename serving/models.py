"""Served models, the L402 tokens that buy prepaid credit for them, and one row per metered
call (what was reserved, used and charged). Amounts are integer msat."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from labeling.models import Requester
from rewardmodel.models import TrainingRun


class ServedModel(models.Model):
    """A succeeded training run published under a public name, with its prices."""

    class Kind(models.TextChoices):
        POLICY = "policy", _("Policy (chat)")
        REWARD = "reward", _("Reward model")

    name = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    run = models.ForeignKey(TrainingRun, on_delete=models.PROTECT, related_name="served_models")
    owner = models.ForeignKey(Requester, on_delete=models.PROTECT, related_name="served_models")
    price_msat_per_1k_input = models.PositiveBigIntegerField(default=0)
    price_msat_per_1k_output = models.PositiveBigIntegerField(default=0)
    price_msat_per_response = models.PositiveBigIntegerField(default=0)
    max_tokens = models.PositiveIntegerField(help_text=_("Most tokens one call may ask for."))
    published = models.BooleanField(default=True)
    # `serve_models` starts an engine process for a managed model and writes its URL here;
    # an unmanaged one points at an OpenAI-compatible upstream (vLLM) the operator runs.
    engine_managed = models.BooleanField(default=True)
    engine_url = models.CharField(max_length=300, blank=True)
    upstream_model = models.CharField(
        max_length=200,
        blank=True,
        help_text=_("The model name the upstream expects (default: name)."),
    )
    created_at = models.DateTimeField()
    unpublished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class L402Token(models.Model):
    """One L402 macaroon's server side: its root key, the invoice that buys its credit, and
    what has been drawn from it. `held_msat` and `spent_msat` change in the same transaction
    as the ledger entries they mirror; the spending cap is checked against them."""

    token_id = models.CharField(max_length=64, unique=True)
    root_key = models.BinaryField(max_length=32)
    served_model = models.ForeignKey(ServedModel, on_delete=models.PROTECT, related_name="tokens")
    payment_hash = models.CharField(max_length=64, unique=True)
    bolt11 = models.TextField()
    amount_msat = models.PositiveBigIntegerField()
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    held_msat = models.BigIntegerField(default=0)
    spent_msat = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(held_msat__gte=0) & Q(spent_msat__gte=0), name="l402_token_counts"
            )
        ]

    def __str__(self) -> str:
        return f"L402 token {self.token_id[:12]}…"


class ServedCall(models.Model):
    """One call: reserved (worst case held) → charged (what was used) | failed (nothing)."""

    class Status(models.TextChoices):
        RESERVED = "reserved", _("In progress")
        CHARGED = "charged", _("Charged")
        FAILED = "failed", _("Failed, nothing charged")

    # Indexed by served_call_day, whose first column it is.
    served_model = models.ForeignKey(
        ServedModel, on_delete=models.PROTECT, related_name="calls", db_index=False
    )
    requester = models.ForeignKey(
        Requester, null=True, blank=True, on_delete=models.PROTECT, related_name="served_calls"
    )
    token = models.ForeignKey(
        L402Token, null=True, blank=True, on_delete=models.PROTECT, related_name="calls"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RESERVED)
    reserved_msat = models.PositiveBigIntegerField()
    charged_msat = models.PositiveBigIntegerField(default=0)
    fee_msat = models.PositiveBigIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["served_model", "created_at"], name="served_call_day"),
            models.Index(
                fields=["created_at"], name="served_call_open", condition=Q(status="reserved")
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(requester__isnull=True) ^ Q(token__isnull=True),
                name="served_call_one_payer",
            )
        ]

    def __str__(self) -> str:
        return f"call {self.pk} to {self.served_model_id} ({self.status})"
