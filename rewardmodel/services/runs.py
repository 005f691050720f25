"""Training runs: started (checked config, queued on commit) and executed (export,
train, record), with progress, a log tail and readable errors on the run's row.

The web side never imports torch: `rewardmodel.pipeline` is imported inside the training
functions, which run in the `training` Celery worker or in the foreground command.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import jobs
from labeling.models import Batch, Item

from ..errors import InvalidTrainingConfig, TrainingFailed
from ..export import export_preferences
from ..models import TrainingRun
from ..pipeline import stack
from .config import POLICY_OPTIONS, TINY, base_models, check_batch_owner, clean_config

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
EXECUTE_JOB = "rewardmodel.execute_run"
PROGRESS_INTERVAL_S = 1.0
LOG_TAIL_LINES = 200


def start_run(
    *,
    kind: str,
    batches: Iterable[Batch],
    config: dict[str, Any],
    started_by: Any = None,
    queue: bool = True,
) -> TrainingRun:
    """Records a queued run; with `queue`, the training worker picks it up after commit."""
    batches = list(batches)
    if not batches:
        raise InvalidTrainingConfig("Pick at least one batch.")
    check_batch_owner(user=started_by, batches=batches)
    clean = clean_config(kind=kind, config=config, user=started_by)
    with transaction.atomic():
        run = TrainingRun.objects.create(kind=kind, config=clean, started_by=started_by)
        run.batches.set(batches)
        if queue:
            TrainingRun.objects.filter(id=run.id).update(queued_at=timezone.now())
            jobs.enqueue(EXECUTE_JOB, run_id=run.id)
    return run


class LogTail(logging.Handler):
    """Keeps the last lines logged during a run, for the run's page."""

    LOGGERS = ("", "transformers", "trl", "datasets")

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.lines: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("django.db"):
            return  # with DEBUG on, our own progress UPDATEs would fill the tail
        try:
            self.lines.append(self.format(record))
        except Exception:  # a log line must never fail the run
            self.handleError(record)

    def note(self, message: str) -> None:
        self.lines.append(f"{timezone.now():%Y-%m-%d %H:%M:%S} {message}")

    def text(self) -> str:
        return "\n".join(self.lines)

    @contextmanager
    def capturing(self) -> Iterator[LogTail]:
        loggers = [logging.getLogger(name) for name in self.LOGGERS]
        for each in loggers:
            each.addHandler(self)
        try:
            yield self
        finally:
            for each in loggers:
                each.removeHandler(self)


class ProgressReporter:
    """The pipeline's progress callback: writes the run row at most once per interval."""

    def __init__(self, run_id: int, tail: LogTail, echo: Progress | None = None) -> None:
        self.run_id, self.tail, self.echo = run_id, tail, echo
        self.last = -math.inf

    def __call__(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_INTERVAL_S and fraction < 1.0:
            return
        self.last = now
        fraction = min(1.0, max(0.0, fraction))
        TrainingRun.objects.filter(id=self.run_id).update(
            progress=fraction, progress_message=message[:200], heartbeat_at=timezone.now()
        )
        self.tail.note(f"{fraction:.0%} {message}")
        if self.echo:
            self.echo(fraction, message)


def readable_error(error: BaseException) -> str:
    if isinstance(error, TrainingFailed) or type(error).__name__ == "PipelineError":
        return str(error)
    if isinstance(error, ModuleNotFoundError) and stack.is_training_package(error.name):
        return (
            f"This machine cannot train: {error.name} is not installed. Install the train "
            f"extra where the training worker runs: {stack.INSTALL_TRAIN} "
            f"(or {stack.PIP_INSTALL_TRAIN})."
        )
    return f"{type(error).__name__}: {error}"[:2000]


def json_safe(value: Any) -> Any:
    """NaN and infinities become None: PostgreSQL's jsonb refuses them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def execute_run(*, run_id: int, echo: Progress | None = None) -> TrainingRun:
    """Trains a queued run and records the outcome. Safe to call twice: only a queued run
    is claimed (one conditional UPDATE), any other call returns the run as it is."""
    claimed = TrainingRun.objects.filter(id=run_id, status=TrainingRun.Status.QUEUED).update(
        status=TrainingRun.Status.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        progress=0.0,
        progress_message="exporting the data",
    )
    run = TrainingRun.objects.get(id=run_id)
    if not claimed:
        return run
    tail = LogTail()
    reporter = ProgressReporter(run_id, tail, echo)
    try:
        with tail.capturing():
            if run.kind == TrainingRun.Kind.REWARD_MODEL:
                metrics = train_reward_model_run(run, reporter)
            else:
                metrics = train_policy_run(run, reporter)
    except BaseException as error:
        tail.lines.extend(traceback.format_exception(error)[-12:])
        TrainingRun.objects.filter(id=run_id).update(
            status=TrainingRun.Status.FAILED,
            error=readable_error(error) if isinstance(error, Exception) else "Interrupted.",
            logs_tail=tail.text(),
            finished_at=timezone.now(),
        )
        logger.warning("training run %s failed: %s", run_id, readable_error(error))
        if not isinstance(error, Exception):
            raise  # Ctrl-C in the foreground command, or the worker shutting down
    else:
        TrainingRun.objects.filter(id=run_id).update(
            status=TrainingRun.Status.SUCCEEDED,
            metrics=json_safe(metrics),
            progress=1.0,
            logs_tail=tail.text(),
            finished_at=timezone.now(),
        )
    run.refresh_from_db()
    return run


def fail_stalled_runs(*, now: datetime | None = None) -> int:
    """Fails running runs whose worker went silent (killed, machine lost), so they do not
    show as running forever; their job is not retried because a run is claimed once."""
    now = now or timezone.now()
    silent_since = now - timedelta(seconds=settings.TRAINING_STALL_SECONDS)
    minutes = settings.TRAINING_STALL_SECONDS // 60
    return TrainingRun.objects.filter(
        status=TrainingRun.Status.RUNNING, heartbeat_at__lt=silent_since
    ).update(
        status=TrainingRun.Status.FAILED,
        error=f"The training worker stopped reporting (no progress for {minutes} minutes); "
        "start the run again.",
        finished_at=now,
    )


def requeue_waiting_runs(*, now: datetime | None = None) -> int:
    """Publishes again the job of runs queued for long (its message may have been lost to a
    broker outage). A run is claimed once, so a duplicate message does nothing."""
    now = now or timezone.now()
    waited = now - timedelta(seconds=settings.TRAINING_REQUEUE_SECONDS)
    requeued = 0
    waiting = TrainingRun.objects.filter(status=TrainingRun.Status.QUEUED, queued_at__lte=waited)
    for run_id, queued_at in waiting.values_list("id", "queued_at")[:100]:
        if TrainingRun.objects.filter(id=run_id, queued_at=queued_at).update(queued_at=now):
            jobs.enqueue(EXECUTE_JOB, run_id=run_id)
            requeued += 1
    return requeued


def resolve_model(name: str, role: str) -> str:
    """A base model's folder; `tiny` → the tiny offline model of this role (`policy` or
    `reward`), built once."""
    if name != TINY:
        return base_models()[name]
    root = Path(settings.TRAINING_RUNS_DIR)
    folder = root / "tiny"
    if not (folder / role / "config.json").is_file():
        from ..pipeline.tiny import TinyArgs, build_tiny_models

        root.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(dir=root, prefix=".tiny-"))
        build_tiny_models(TinyArgs(out=str(building)))
        try:
            building.rename(folder)
        except OSError:  # another process built them first
            shutil.rmtree(building, ignore_errors=True)
    return str(folder / role)


def train_reward_model_run(run: TrainingRun, progress: ProgressReporter) -> dict[str, Any]:
    from ..pipeline.reward import RewardArgs, train_reward_model

    config = run.config
    data, out = run.directory / "data", run.directory / "model"
    export = export_preferences(
        batches=run.batches.all(),
        out=data,
        eval_fraction=config["eval_fraction"],
        margin=config["margin"],
    )
    TrainingRun.objects.filter(id=run.id).update(dataset_path=str(data))
    if not export.train or not export.eval:
        raise TrainingFailed(
            f"Too few approved preference pairs to train: {len(export.train)} for training, "
            f"{len(export.eval)} for evaluation (pairs come from items with approved ratings)."
        )
    progress.tail.note(f"exported {len(export.train)} train and {len(export.eval)} eval pairs")
    args = RewardArgs(
        data=str(data),
        model=resolve_model(config["model"], "reward"),
        out=str(out),
        epochs=config["epochs"],
        lr=config["lr"],
        batch_size=config["batch_size"],
        max_length=config["max_length"],
        lora=config["lora"],
        seed=config["seed"],
    )
    metrics = train_reward_model(args, progress=progress)
    TrainingRun.objects.filter(id=run.id).update(artifact_path=str(out))
    return metrics


def train_policy_run(run: TrainingRun, progress: ProgressReporter) -> dict[str, Any]:
    from ..pipeline.policy import PolicyArgs, train_policy

    config = run.config
    data, out = run.directory / "data", run.directory / "model"
    prompts = list(
        dict.fromkeys(
            Item.objects.filter(batch__in=run.batches.all(), gold__isnull=True)
            .order_by("id")
            .values_list("prompt", flat=True)
        )
    )
    if len(prompts) < 2:
        raise TrainingFailed("The batches hold fewer than two prompts: nothing to tune on.")
    data.mkdir(parents=True, exist_ok=True)
    with (data / "prompts.jsonl").open("w", encoding="utf-8") as lines:
        for prompt in prompts:
            lines.write(json.dumps({"prompt": prompt}, ensure_ascii=False) + "\n")
    TrainingRun.objects.filter(id=run.id).update(dataset_path=str(data))
    reward_model = config["reward_model"]
    if isinstance(reward_model, int):  # a reward run of this site: its trained model
        reward_model_folder = TrainingRun.objects.get(id=reward_model).artifact_path
    else:
        reward_model_folder = resolve_model(reward_model, "reward")
    args = PolicyArgs(
        policy=resolve_model(config["policy"], "policy"),
        reward_model=reward_model_folder,
        prompts=str(data / "prompts.jsonl"),
        out=str(out),
        **{key: config[key] for key in POLICY_OPTIONS if key not in ("policy", "reward_model")},
    )
    metrics = train_policy(args, progress=progress)
    TrainingRun.objects.filter(id=run.id).update(artifact_path=str(out))
    return metrics
