"""Trains a reward model on batches in the foreground (printing progress), or queues the run."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import DomainError
from labeling.models import Batch
from rewardmodel.models import TrainingRun
from rewardmodel.services import runs


class Command(BaseCommand):
    help = "Train a reward model on the approved preferences of batches (a TrainingRun)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, action="append", required=True, dest="batches")
        parser.add_argument(
            "--model",
            required=True,
            help="'tiny' for a smoke test, or a base model named in TRAINING_BASE_MODELS.",
        )
        parser.add_argument("--epochs", type=float)
        parser.add_argument("--lr", type=float)
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--max-length", type=int)
        parser.add_argument("--lora", action="store_true", default=None)
        parser.add_argument("--eval-fraction", type=float)
        parser.add_argument("--user", help="Record the run as started by this username.")
        parser.add_argument(
            "--queue", action="store_true", help="Queue it for the training worker instead."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batches = list(Batch.objects.filter(id__in=options["batches"]))
        missing = set(options["batches"]) - {batch.id for batch in batches}
        if missing:
            raise CommandError(f"no batch with id {', '.join(map(str, sorted(missing)))}")
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user {options['user']!r}")
        names = ("model", "epochs", "lr", "batch_size", "max_length", "lora", "eval_fraction")
        config = {name: options[name] for name in names if options[name] is not None}
        try:
            run = runs.start_run(
                kind=TrainingRun.Kind.REWARD_MODEL,
                batches=batches,
                config=config,
                started_by=user,
                queue=options["queue"],
            )
        except DomainError as error:
            raise CommandError(str(error)) from error
        if options["queue"]:
            self.stdout.write(f"Run {run.id} queued for the training worker.")
            return
        self.stdout.write(f"Run {run.id}: training in the foreground, files in {run.directory}")
        run = runs.execute_run(run_id=run.id, echo=self.show_progress)
        if run.status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"run {run.id} failed: {run.error}")
        metrics = run.metrics
        self.stdout.write(
            f"Run {run.id} succeeded: eval accuracy {metrics['eval_accuracy']:.3f}, "
            f"eval loss {metrics['eval_loss']:.4f}, "
            f"{metrics['train_samples_per_second']:.1f} samples/s; model in {run.artifact_path}"
        )

    def show_progress(self, fraction: float, message: str) -> None:
        self.stdout.write(f"[{fraction:4.0%}] {message}")
