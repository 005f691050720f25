"""`manage.py train_reward_model`: trains in the foreground, or queues a run, and refuses a
bad config in one line."""

import pytest
from django.core.management import CommandError, call_command

from rewardmodel.models import TrainingRun

pytestmark = pytest.mark.usefixtures("runs_dir")


@pytest.mark.train
def test_the_command_trains_in_the_foreground(tiny_models, rated_batch, capsys):
    batch = rated_batch(12, overlap=1)
    call_command("train_reward_model", "--batch", str(batch.id), "--model", tiny_models["reward"])
    out = capsys.readouterr().out
    assert "[100%] eval accuracy" in out
    assert f"Run {TrainingRun.objects.get().id} succeeded: eval accuracy" in out


def test_the_command_refuses_a_bad_config_in_one_line(make_batch):
    with pytest.raises(CommandError, match="epochs must be a number above 0"):
        call_command(
            "train_reward_model", "--batch", str(make_batch().id), "--model", "x", "--epochs", "0"
        )


def test_the_command_queues_a_run(make_batch, capsys):
    call_command(
        "train_reward_model", "--batch", str(make_batch().id), "--model", "tiny", "--queue"
    )
    run = TrainingRun.objects.get()
    assert run.status == "queued"
    assert f"Run {run.id} queued" in capsys.readouterr().out
