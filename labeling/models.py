"""Batches of rating tasks, who rates them, and the ratings they give."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .quality.trust import trust_score


class TaskType(models.TextChoices):
    PAIRWISE = "pairwise", _("Pairwise comparison")
    RANKING = "ranking", _("Ranking")
    LIKERT = "likert", _("Likert scores (1-7)")


class Requester(models.Model):
    """Someone who posts batches and pays for ratings; logs in to the admin as staff."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="requester"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.user.username


class Worker(models.Model):
    """A labeler, identified by the LNURL-auth linking key of their wallet.

    A new key is on probation: its ratings are held until gold evidence shows it is
    honest (then they are paid together and it is trusted), or closed for good.
    """

    class Standing(models.TextChoices):
        PROBATION = "probation", _("On probation: ratings held until checked")
        TRUSTED = "trusted", _("Trusted: paid at once")
        CLOSED = "closed", _("Closed: not served, waiting ratings rejected")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="worker"
    )
    linking_key = models.CharField(max_length=66, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Evidence for the trust score. Kept on this row because authentication loads it
    # anyway, so deciding a rating's approval costs no query.
    gold_seen = models.PositiveIntegerField(default=0)
    gold_correct = models.PositiveIntegerField(default=0)
    peer_seen = models.PositiveIntegerField(default=0)
    peer_agree = models.FloatField(default=0.0)
    standing = models.CharField(max_length=16, choices=Standing.choices, default=Standing.PROBATION)
    closed_reason = models.TextField(blank=True, help_text=_("Why the worker was closed."))
    # A hash of the client (address and browser) the worker last answered from: keys
    # behind one client are treated as one person when one of them is closed.
    client = models.CharField(max_length=32, blank=True, db_index=True)

    def __str__(self) -> str:
        return f"worker {self.pk} ({self.linking_key[:10]}…)"

    @property
    def evidence(self) -> int:
        return self.gold_seen + self.peer_seen

    @property
    def trust(self) -> float:
        """Share of checks passed, with a Beta prior so a new worker starts neutral."""
        return trust_score(
            gold_seen=self.gold_seen,
            gold_correct=self.gold_correct,
            peer_seen=self.peer_seen,
            peer_agree=self.peer_agree,
        )


class Batch(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PAUSED = "paused", _("Paused")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    # Closed for good: its reservation is released and nothing more is served or paid.
    CLOSED_STATUSES = (Status.COMPLETED, Status.CANCELLED)

    class Review(models.TextChoices):
        AUTO = (
            "auto",
            _("Approve trusted workers' unflagged ratings at once; new workers' once checked"),
        )
        MANUAL = "manual", _("Every rating waits for the requester")
        AUTO_AFTER = "auto_after", _("Approve unflagged ratings after a delay")

    requester = models.ForeignKey(Requester, on_delete=models.PROTECT, related_name="batches")
    name = models.CharField(max_length=200)
    task_type = models.CharField(max_length=16, choices=TaskType.choices)
    instructions = models.TextField(blank=True, help_text=_("Markdown, shown to workers."))
    reward_msat = models.PositiveBigIntegerField()
    overlap = models.PositiveSmallIntegerField(default=1)
    max_overlap = models.PositiveSmallIntegerField(
        default=1,
        help_text=_(
            "Dynamic overlap: items not yet confident after `overlap` votes get more, up to this."
        ),
    )
    min_confidence = models.FloatField(
        null=True,
        blank=True,
        help_text=_("Dynamic overlap: the aggregated confidence an item needs (0..1)."),
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    items_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # Quality control
    review_mode = models.CharField(max_length=16, choices=Review.choices, default=Review.AUTO)
    auto_approve_trust = models.FloatField(
        default=0.5,
        help_text=_(
            "In auto mode, ratings of workers past probation and at or above this "
            "trust are approved at once."
        ),
    )
    review_after_hours = models.PositiveIntegerField(
        default=72, help_text=_("In auto-after mode, unflagged ratings are approved after this.")
    )
    pause_below_trust = models.FloatField(
        default=0.5,
        help_text=_(
            "Workers whose trust falls below this (after at least "
            "eight checks) are paused from the batch and their "
            "waiting ratings rejected."
        ),
    )
    min_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Answers faster than this are flagged (default per task type)."),
    )
    gold_count = models.PositiveIntegerField(default=0)
    # Gold answers are what decide a new worker's probation: twenty per item leave enough for
    # the newcomers of a batch, past the few each trusted worker takes.
    gold_overlap = models.PositiveSmallIntegerField(
        default=20,
        help_text=_("How many workers answer each gold item (gold checks every worker)."),
    )
    pay_gold = models.BooleanField(
        default=True, help_text=_("Pay gold answers like any other (workers cannot tell).")
    )
    bonus_percent = models.PositiveSmallIntegerField(
        default=0,
        help_text=_("Pay by quality: workers at or above the bonus trust earn this much more."),
    )
    bonus_trust = models.FloatField(default=0.8)
    qualification_size = models.PositiveSmallIntegerField(
        default=0,
        help_text=_("Entry test: a new worker first answers this many gold items; 0 for none."),
    )
    qualification_pass = models.FloatField(
        default=0.75,
        help_text=_("Share of the entry test to get right; below it the batch is closed."),
    )
    # Where the responses came from when a served policy generated them (the closed loop):
    # plain values, not foreign keys, since labeling sits below serving and rewardmodel.
    source_model = models.CharField(
        max_length=64, blank=True, default="", help_text=_("The served model that answered.")
    )
    source_run_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text=_("The training run behind that model.")
    )

    class Meta:
        verbose_name_plural = "batches"
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def ratings_needed(self) -> int:
        """Every slot of the batch: `overlap` per item, `gold_overlap` per gold item."""
        return (self.items_count - self.gold_count) * self.overlap + (
            self.gold_count * self.gold_overlap
        )

    @property
    def bonus_msat(self) -> int:
        """Extra pay per rating for trusted workers (pay by quality)."""
        return self.reward_msat * self.bonus_percent // 100

    def reward_for(self, worker: "Worker", *, gold: bool = False) -> int:
        if gold and not self.pay_gold:
            return 0
        bonus = self.bonus_percent and worker.trust >= self.bonus_trust
        return self.reward_msat + (self.bonus_msat if bonus else 0)

    def cost_terms(self) -> list["CostTerm"]:
        """The batch's cost, term by term: every slot at the highest pay (unused bonus is
        released). The upload preview shows these terms; `cost_msat` is their sum."""
        terms = [
            CostTerm(
                kind="plain",
                items=self.items_count - self.gold_count,
                # Dynamic overlap may use every slot up to max_overlap; the rest is released.
                per_item=max(self.overlap, self.max_overlap),
                msat_per_rating=self.reward_msat,
            )
        ]
        if self.gold_count:
            terms.append(
                CostTerm(
                    kind="gold",
                    items=self.gold_count,
                    per_item=self.gold_overlap,
                    msat_per_rating=self.reward_msat if self.pay_gold else 0,
                )
            )
        if self.bonus_msat:
            paid = sum(t.ratings for t in terms if t.kind != "gold" or self.pay_gold)
            terms.append(
                CostTerm(kind="bonus", items=paid, per_item=1, msat_per_rating=self.bonus_msat)
            )
        return terms

    @property
    def cost_msat(self) -> int:
        """Reserved from the requester's balance when the batch is created."""
        return sum(term.msat for term in self.cost_terms())


@dataclass(frozen=True)
class CostTerm:
    """`items` times `per_item` ratings at `msat_per_rating`: plain items, gold items, or the
    quality bonus (then `items` counts the paid ratings)."""

    kind: str
    items: int
    per_item: int
    msat_per_rating: int

    @property
    def ratings(self) -> int:
        return self.items * self.per_item

    @property
    def msat(self) -> int:
        return self.ratings * self.msat_per_rating


class Item(models.Model):
    """One prompt with the responses to rate.

    `slots_left` counts the ratings still to hand out: it starts at the batch's overlap,
    goes down when an assignment is given and up when one is skipped or expires, and is
    only ever changed by conditional UPDATEs, so concurrent workers never over-fill it.
    """

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    prompt = models.TextField()
    gold = models.JSONField(null=True, blank=True, help_text=_("Response ids, best first."))
    slots_left = models.PositiveSmallIntegerField()
    blocked = models.BooleanField(default=False, help_text=_("Stopped after reports."))

    class Meta:
        ordering = ["batch_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "position"], name="item_position_unique")
        ]
        indexes = [
            models.Index(
                fields=["batch", "id"],
                name="item_needs_ratings",
                condition=Q(slots_left__gt=0, blocked=False),
            )
        ]

    def __str__(self) -> str:
        return f"item {self.pk} of batch {self.batch_id}"


class Response(models.Model):
    """One model answer to an item's prompt. `key` is the id the requester gave it."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="responses")
    key = models.CharField(max_length=64)
    text = models.TextField()
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["item_id", "position"]
        constraints = [models.UniqueConstraint(fields=["item", "key"], name="response_key_unique")]

    def __str__(self) -> str:
        return self.key


class Assignment(models.Model):
    """An item leased to one worker until `expires_at`, its responses in `order`."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        SUBMITTED = "submitted", _("Submitted")
        SKIPPED = "skipped", _("Skipped")
        EXPIRED = "expired", _("Expired")

    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="assignments")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="assignments")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    order = models.JSONField(help_text=_("Response keys in the order this worker saw them."))
    created_at = models.DateTimeField(help_text=_("When the task was shown."))
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # A worker never gets the same item twice.
            models.UniqueConstraint(fields=["worker", "item"], name="assignment_once_per_worker"),
            # At most one open assignment per worker.
            models.UniqueConstraint(
                fields=["worker"], condition=Q(status="open"), name="assignment_one_open"
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"], name="assignment_open_expiry", condition=Q(status="open")
            ),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk}"


class Rating(models.Model):
    class Status(models.TextChoices):
        APPROVED = "approved", _("Approved")
        PENDING_REVIEW = "pending_review", _("Pending review")
        REJECTED = "rejected", _("Rejected")

    assignment = models.OneToOneField(Assignment, on_delete=models.PROTECT, related_name="rating")
    worker = models.ForeignKey(Worker, on_delete=models.PROTECT, related_name="ratings")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="ratings")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="ratings")
    ranking = models.JSONField(null=True, blank=True, help_text=_("Response keys, best first."))
    scores = models.JSONField(null=True, blank=True, help_text=_("Response key → 1..7."))
    rationale = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    reward_msat = models.PositiveBigIntegerField()
    reason = models.TextField(blank=True, help_text=_("Why it was rejected; the worker sees it."))
    shown_at = models.DateTimeField()
    created_at = models.DateTimeField()
    flags = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Quality flags: too_fast, straight_lining, accuracy_drop."),
    )
    gold_correct = models.BooleanField(
        null=True, blank=True, help_text=_("On gold items: whether it matched the answer.")
    )
    position = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text=_("Where the chosen (best) answer was shown, from 0.")
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["batch", "status"], name="rating_batch_status"),
            models.Index(fields=["worker", "status"], name="rating_worker_status"),
            # The worker's latest ratings, read on every submit for the flags.
            models.Index(fields=["worker", "-id"], name="rating_worker_recent"),
        ]

    def __str__(self) -> str:
        return f"rating {self.pk}"

    @property
    def seconds_taken(self) -> float:
        return (self.created_at - self.shown_at).total_seconds()


class Report(models.Model):
    class Reason(models.TextChoices):
        PII = "pii", _("Personal data")
        SPAM = "spam", _("Spam")
        BROKEN = "broken", _("Broken task")
        OTHER = "other", _("Other")

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="report")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="reports")
    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="reports")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.reason} report on item {self.item_id}"


class TrustSnapshot(models.Model):
    """A worker's trust after a change, for the trust-over-time chart."""

    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="trust_history")
    trust = models.FloatField()
    gold_seen = models.PositiveIntegerField()
    gold_correct = models.PositiveIntegerField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["worker_id", "at"]

    def __str__(self) -> str:
        return f"worker {self.worker_id}: {self.trust:.2f} at {self.at:%Y-%m-%d %H:%M}"


class BatchWorkerStats(models.Model):
    """Per worker and batch: gold answers, the entry test, and agreement with peers."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="worker_stats")
    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="batch_stats")
    gold_seen = models.PositiveIntegerField(default=0)
    gold_correct = models.PositiveIntegerField(default=0)
    # None while the entry test runs (or if there is none), then passed or failed for good.
    qualified = models.BooleanField(null=True, blank=True)
    peer_seen = models.PositiveIntegerField(default=0)
    peer_agree = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "worker"], name="batch_worker_stats_unique")
        ]

    def __str__(self) -> str:
        return f"worker {self.worker_id} on batch {self.batch_id}"


class StagedUpload(models.Model):
    """A batch file kept between tries of the admin's upload form (its cost preview, a
    mistake in another field), so the requester does not choose it again; removed once the
    batch is created, or after a day."""

    requester = models.ForeignKey(
        Requester, on_delete=models.CASCADE, related_name="staged_uploads"
    )
    name = models.CharField(max_length=255)
    content = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    # Long enough to come back to an open form; the files are not kept for good.
    LIFETIME = timedelta(days=1)

    def __str__(self) -> str:
        return self.name


class PublicProfile(models.Model):
    """A worker's name on the public leaderboard: random (nothing in it derives from the
    wallet key), kept when they leave the board so it comes back the same."""

    worker = models.OneToOneField(Worker, on_delete=models.CASCADE, related_name="public_profile")
    pseudonym = models.CharField(max_length=40, unique=True)
    listed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["listed"], name="public_profile_listed")]

    def __str__(self) -> str:
        return self.pseudonym
