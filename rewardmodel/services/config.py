"""A training run's configuration: every option with its type, default and rule, checked
into the config a run records (readable errors name the first mistake)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from labeling.models import Batch

from .. import selectors
from ..errors import InvalidTrainingConfig, NotYourBatches
from ..models import TrainingRun

TINY = "tiny"  # a model name meaning "the tiny offline models", built on first use


@dataclass(frozen=True)
class Option:
    """One config key: its type, default (None = required) and the rule its value must meet."""

    kind: type
    default: Any = None
    check: Callable[[Any], bool] = lambda value: True
    rule: str = ""


REWARD_OPTIONS = {
    "model": Option(str, rule="'tiny' (the tiny offline model) or a base model this site offers"),
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
    "policy": Option(str, rule="'tiny' (the tiny offline model) or a base model this site offers"),
    "reward_model": Option(object, rule="the id of a succeeded rm run, 'tiny' or a base model"),
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
    for name in ("model", "policy"):
        if name in clean:
            known_model(name, clean[name])
    if kind == TrainingRun.Kind.POLICY:
        clean["reward_model"] = reward_model_reference(clean["reward_model"], user)
        if clean["algo"] != "ppo" and clean["batch_size"] % clean["num_generations"]:
            raise InvalidTrainingConfig("batch_size must be a multiple of num_generations.")
    return clean


def base_models() -> dict[str, str]:
    """The models runs may start from: `tiny`, and what the operator registered
    (TRAINING_BASE_MODELS, name → folder on the training machine)."""
    return {TINY: TINY, **settings.TRAINING_BASE_MODELS}


def known_model(option: str, name: str) -> str:
    """A model is named, never given as a path: a path would read any folder the training
    worker can, other requesters' runs included."""
    if name not in base_models():
        raise InvalidTrainingConfig(
            f"{option} must be one of the base models this site offers: "
            f"{', '.join(sorted(base_models()))} (not {name!r})."
        )
    return name


def reward_model_reference(value: Any, user: Any) -> int | str:
    """A succeeded rm run id the user may see, or a base model's name."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, str) and value.strip():
        return known_model("reward_model", value.strip())
    if type(value) is not int:
        raise InvalidTrainingConfig("reward_model must be the id of an rm run or a base model.")
    runs = selectors.visible_runs(user=user) if user is not None else TrainingRun.objects.all()
    run = runs.filter(id=value, kind=TrainingRun.Kind.REWARD_MODEL).first()
    if run is None:
        raise InvalidTrainingConfig(f"There is no reward model run {value}.")
    if run.status != TrainingRun.Status.SUCCEEDED:
        raise InvalidTrainingConfig(f"Reward model run {value} has not succeeded ({run.status}).")
    return value


def check_batch_owner(*, user: Any, batches: list[Batch]) -> None:
    if user is None or user.is_superuser:
        return  # the command line (operator) and superusers may train on anything
    requester = getattr(user, "requester", None)
    foreign = [b.id for b in batches if requester is None or b.requester_id != requester.id]
    if foreign:
        raise NotYourBatches(
            f"You can only train on your own batches (not {', '.join(map(str, foreign))})."
        )
