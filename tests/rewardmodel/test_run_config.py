"""Starting a run checks its config, records the defaults, and trains only on the
requester's own batches (a policy run only on a succeeded reward model run)."""

import pytest

from rewardmodel.errors import InvalidTrainingConfig, NotYourBatches
from rewardmodel.models import TrainingRun
from rewardmodel.services import runs as run_services
from tests.rewardmodel.run_helpers import start

pytestmark = pytest.mark.usefixtures("runs_dir")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"model": "tiny", "epochs": -1}, "epochs must be a number above 0"),
        ({"model": "tiny", "warmup": 3}, "Unknown option warmup"),
        ({}, "model is required"),
        ({"model": "tiny", "batch_size": "8"}, "batch_size must be a whole number, not '8'"),
        ({"model": "tiny", "lora": "yes"}, "lora must be true or false"),
    ],
)
def test_a_bad_config_is_refused_at_start(make_batch, config, message):
    with pytest.raises(InvalidTrainingConfig) as refused:
        start(make_batch(), config)
    assert message in str(refused.value)
    assert refused.value.status_code == 400
    assert not TrainingRun.objects.exists()


def test_a_started_run_is_queued_with_the_defaults_in_its_config(make_batch):
    run = start(make_batch(), {"model": "tiny", "epochs": 3})
    assert run.status == "queued"
    assert run.config["epochs"] == 3.0
    assert run.config["lr"] == 1e-4
    assert run.config["eval_fraction"] == 0.1


def test_a_requester_trains_only_on_its_own_batches(make_batch, make_requester):
    other = make_requester()
    with pytest.raises(NotYourBatches) as refused:
        start(make_batch(), {"model": "tiny"}, user=other.user)
    assert refused.value.status_code == 403


def test_a_policy_run_needs_a_succeeded_reward_model_run(make_batch, requester):
    batch = make_batch()
    rm_run = start(batch, {"model": "tiny"}, user=requester.user)
    with pytest.raises(InvalidTrainingConfig, match="has not succeeded"):
        start(batch, {"policy": "tiny", "reward_model": rm_run.id}, kind="ppo")
    with pytest.raises(InvalidTrainingConfig, match="no reward model run 999"):
        start(batch, {"policy": "tiny", "reward_model": 999}, kind="ppo")


@pytest.mark.parametrize(
    "config",
    [
        {"model": "/etc"},
        {"model": "../runs/7/model"},
        {"model": "HuggingFaceTB/SmolLM2-135M"},
    ],
)
def test_a_model_is_named_never_given_as_a_path(make_batch, config):
    with pytest.raises(InvalidTrainingConfig, match="base models this site offers: tiny"):
        start(make_batch(), config)
    assert not TrainingRun.objects.exists()


def test_a_policy_run_names_its_reward_model_never_a_folder(make_batch):
    config = {"policy": "tiny", "reward_model": "/srv/runs/3/model"}
    with pytest.raises(InvalidTrainingConfig, match="reward_model must be one of the base models"):
        start(make_batch(), config, kind="ppo")


def test_an_operator_registered_base_model_is_accepted(make_batch, settings):
    settings.TRAINING_BASE_MODELS = {"smollm2-135m": "/models/smollm2"}
    run = start(make_batch(), {"model": "smollm2-135m"})
    assert run.config["model"] == "smollm2-135m"
    assert run_services.resolve_model("smollm2-135m", "reward") == "/models/smollm2"
