"""Start training runs (checked config, queued on commit) and execute them (export, train, record).

The web side never imports torch: `rewardmodel.pipeline` is imported inside `execute_run`, which
runs in the `training` Celery worker or in the foreground command.
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
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labeling.models import Batch, Item

from .errors import InvalidTrainingConfig, NotYourBatches, TrainingFailed
from .export import export_preferences
from .models import TrainingRun

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
TINY = "tiny"  # a model name meaning "the tiny offline models", built on first use
PROGRESS_INTERVAL_S = 1.0
LOG_TAIL_LINES = 200


@dataclass(frozen=True)
class Option:
    """One config key: its type, default (None = required) and the rule its value must meet."""

    kind: type
    default: Any = None
    check: Callable[[Any], bool] = lambda value: True
    rule: str = ""


REWARD_OPTIONS = {
    "model": Option(str, rule="a model name or folder ('tiny' for the tiny offline model)"),
    "epochs": Option(float, 1.0, lambda v: 0 < v <= 100, "a number above 0, at most 100"),
    "lr": Option(float, 1e-4, lambda v: 0 < v < 1, "a number between 0 and 1"),
    "batch_size": Option(int, 8, lambda v: 1 <= v <= 1024, "a whole number from 1 to 1024"),
    "max_length": Option(int, 1024, lambda v: 16 <= v <= 32768, "a whole number from 16"),
    "lora": Option(bool, False),
    "seed": Option(int, 42),
    "eval_fraction": Option(float, 0.1, lambda v: 0 < v <= 0.5, "above 0, at most 0.5"),
    "margin": Option(bool, True),
}
POLICY_OPTIONS = {
    "policy": Option(str, rule="a causal LM name or folder ('tiny' for the tiny offline model)"),
    "reward_model": Option(object, rule="a reward model folder or the id of a succeeded rm run"),
    "algo": Option(str, "ppo", lambda v: v in ("ppo", "grpo", "rloo"), "ppo, grpo or rloo"),
    "steps": Option(int, 20, lambda v: 1 <= v <= 100_000, "a whole number from 1"),
    "batch_size": Option(int, 8, lambda v: 1 <= v <= 1024, "a whole number from 1 to 1024"),
    "num_generations": Option(int, 4, lambda v: 2 <= v <= 64, "a whole number from 2 to 64"),
    "max_new_tokens": Option(int, 48, lambda v: 1 <= v <= 4096, "a whole number from 1"),
    "lr": Option(float, 1e-6, lambda v: 0 < v < 1, "a number between 0 and 1"),
    "kl_coef": Option(float, 0.05, lambda v: v >= 0, "a number of at least 0"),
    "eval_prompts": Option(int, 16, lambda v: v >= 1, "a whole number from 1"),
    "seed": Option(int, 42),
}
OPTIONS = {TrainingRun.Kind.REWARD_MODEL: REWARD_OPTIONS, TrainingRun.Kind.POLICY: POLICY_OPTIONS}


def typed(name: str, option: Option, value: Any) -> Any:
    """The value as the option's type, or a readable InvalidTrainingConfig."""
    if option.kind is object:
        return value
    ok = isinstance(value, option.kind) and not (option.kind is not bool and type(value) is bool)
    if option.kind is float and type(value) is int:
        ok, value = True, float(value)
    if option.kind is str and ok:
        value = value.strip()
        ok = bool(value)
    if not ok:
        expected = {str: "text", int: "a whole number", float: "a number", bool: "true or false"}
        raise InvalidTrainingConfig(f"{name} must be {expected[option.kind]}, not {value!r}.")
    if option.kind is not bool and not option.check(value):
        raise InvalidTrainingConfig(f"{name} must be {option.rule} (got {value!r}).")
    return value


def clean_config(*, kind: str, config: dict[str, Any], user: Any = None) -> dict[str, Any]:
    """The config with defaults filled in, or InvalidTrainingConfig naming the first mistake."""
    if kind not in OPTIONS:
        raise InvalidTrainingConfig(f"Unknown run kind {kind!r}: use rm or ppo.")
    options = OPTIONS[kind]
    unknown = sorted(set(config) - set(options))
    if unknown:
        raise InvalidTrainingConfig(
            f"Unknown option {', '.join(unknown)} for a {kind} run; "
            f"known options: {', '.join(options)}."
        )
    clean = {}
    for name, option in options.items():
        if config.get(name) is None:
            if option.default is None:
                raise InvalidTrainingConfig(f"{name} is required: {option.rule}.")
            clean[name] = option.default
        else:
            clean[name] = typed(name, option, config[name])
    if kind == TrainingRun.Kind.POLICY:
        clean["reward_model"] = reward_model_reference(clean["reward_model"], user)
        if clean["algo"] != "ppo" and clean["batch_size"] % clean["num_generations"]:
            raise InvalidTrainingConfig("batch_size must be a multiple of num_generations.")
    return clean


def reward_model_reference(value: Any, user: Any) -> int | str:
    """A succeeded rm run id the user may see, or a folder name as given."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if type(value) is not int:
        raise InvalidTrainingConfig("reward_model must be a folder or the id of an rm run.")
    runs = visible_runs(user=user) if user is not None else TrainingRun.objects.all()
    run = runs.filter(id=value, kind=TrainingRun.Kind.REWARD_MODEL).first()
    if run is None:
        raise InvalidTrainingConfig(f"There is no reward model run {value}.")
    if run.status != TrainingRun.Status.SUCCEEDED:
        raise InvalidTrainingConfig(f"Reward model run {value} has not succeeded ({run.status}).")
    return value


def visible_runs(*, user: Any) -> Any:
    """Superusers see every run; anyone else the runs they started."""
    if user.is_superuser:
        return TrainingRun.objects.all()
    return TrainingRun.objects.filter(started_by=user)


def check_batch_owner(*, user: Any, batches: list[Batch]) -> None:
    if user is None or user.is_superuser:
        return  # the command line (operator) and superusers may train on anything
    requester = getattr(user, "requester", None)
    foreign = [b.id for b in batches if requester is None or b.requester_id != requester.id]
    if foreign:
        raise NotYourBatches(
            f"You can only train on your own batches (not {', '.join(map(str, foreign))})."
        )


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
            from . import tasks

            transaction.on_commit(lambda: tasks.execute_run.delay(run_id=run.id))
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


TRAINING_PACKAGES = {"torch", "trl", "transformers", "datasets", "peft", "accelerate", "matplotlib"}


def readable_error(error: BaseException) -> str:
    if isinstance(error, TrainingFailed) or type(error).__name__ == "PipelineError":
        return str(error)
    if isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0] in (
        TRAINING_PACKAGES
    ):
        return (
            f"This machine cannot train: {error.name} is not installed. Install the train "
            "extra where the training worker runs: pip install torch==2.13.0 && "
            "pip install -e '.[train]'."
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


def resolve_model(name: str, role: str) -> str:
    """`tiny` → the tiny offline model of this role (`policy` or `reward`), built once."""
    if name != TINY:
        return name
    root = Path(settings.TRAINING_RUNS_DIR)
    folder = root / "tiny"
    if not (folder / role / "config.json").is_file():
        from .pipeline.tiny import TinyArgs, build_tiny_models

        root.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(dir=root, prefix=".tiny-"))
        build_tiny_models(TinyArgs(out=str(building)))
        try:
            building.rename(folder)
        except OSError:  # another process built them first
            shutil.rmtree(building, ignore_errors=True)
    return str(folder / role)


def train_reward_model_run(run: TrainingRun, progress: ProgressReporter) -> dict[str, Any]:
    from .pipeline.reward import RewardArgs, train_reward_model

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
    from .pipeline.policy import PolicyArgs, train_policy

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
    if isinstance(reward_model, int):
        reward_model = TrainingRun.objects.get(id=reward_model).artifact_path
    args = PolicyArgs(
        policy=resolve_model(config["policy"], "policy"),
        reward_model=resolve_model(reward_model, "reward"),
        prompts=str(data / "prompts.jsonl"),
        out=str(out),
        **{key: config[key] for key in POLICY_OPTIONS if key not in ("policy", "reward_model")},
    )
    metrics = train_policy(args, progress=progress)
    TrainingRun.objects.filter(id=run.id).update(artifact_path=str(out))
    return metrics
