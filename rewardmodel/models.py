"""A training run: what was asked (kind, batches, config), how it went, what it produced."""

from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TrainingRun(models.Model):
    class Kind(models.TextChoices):
        REWARD_MODEL = "rm", _("Reward model")
        POLICY = "ppo", _("Policy (PPO/GRPO/RLOO)")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    kind = models.CharField(max_length=8, choices=Kind.choices)
    batches = models.ManyToManyField("labeling.Batch", related_name="training_runs")
    config = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    progress_message = models.CharField(max_length=200, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    artifact_path = models.CharField(max_length=500, blank=True)
    dataset_path = models.CharField(max_length=500, blank=True)
    logs_tail = models.TextField(blank=True)
    error = models.TextField(blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="training_runs",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # When its job was last published; a queued run whose job was lost is published again.
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Written with every progress report: a running run that stops beating lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} run {self.id}"

    @property
    def directory(self) -> Path:
        return Path(settings.TRAINING_RUNS_DIR) / str(self.id)

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)
