"""Trains a reward model on batches in the foreground (printing progress), or queues the run
for the training worker."""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import jobs
from core.errors import DomainError
from labeling.models import Batch
from rewardmodel.models import TrainingRun
from rewardmodel.pipeline import stack
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
        parser.add_argument(
            "--requester",
            "--user",
            dest="requester",
            metavar="USERNAME",
            help="The requester the run belongs to (it shows on their runs page and API, and "
            "trains on their batches only). Without it the run belongs to no requester.",
        )
        parser.add_argument(
            "--queue",
            action="store_true",
            help="Queue it for the training worker (needs CELERY_BROKER_URL) instead.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["queue"]:
            self.check_worker_reachable()
        else:
            self.check_training_stack()
        batches = list(Batch.objects.filter(id__in=options["batches"]))
        missing = set(options["batches"]) - {batch.id for batch in batches}
        if missing:
            raise CommandError(f"no batch with id {', '.join(map(str, sorted(missing)))}")
        user = self.requester_user(options["requester"])
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
        if user is None:
            self.stdout.write(
                f"Run {run.id} belongs to no requester: only superusers see it "
                "(--requester USERNAME gives it to a requester)."
            )
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

    def requester_user(self, username: str | None) -> Any:
        if not username:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None or not hasattr(user, "requester"):
            raise CommandError(
                f"no requester {username!r} (python manage.py createrequester {username} "
                "creates one)"
            )
        return user

    def check_worker_reachable(self) -> None:
        """A queued run needs a broker: without one the job would run right here, in this
        command, which is what leaving out --queue does, honestly."""
        if jobs.runs_in_process():
            raise CommandError(
                "--queue needs a broker, and CELERY_BROKER_URL is not set: jobs would run in "
                "this process. Leave out --queue to train here in the foreground, or set "
                "CELERY_BROKER_URL and start a worker: "
                "celery -A marketplace worker -Q training -c 1"
            )
        try:
            jobs.check_broker()
        except Exception as error:  # whatever the transport raises: the broker is not there
            raise CommandError(
                f"--queue: the broker at {settings.CELERY_BROKER_URL} does not answer "
                f"({error}); nothing was queued."
            ) from error

    def check_training_stack(self) -> None:
        missing = stack.missing_package()
        if missing:
            raise CommandError(stack.install_hint(missing), returncode=2)

    def show_progress(self, fraction: float, message: str) -> None:
        self.stdout.write(f"[{fraction:4.0%}] {message}")
