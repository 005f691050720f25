"""`manage.py train_reward_model`: trains in the foreground, or queues a run for a worker that
a broker reaches, gives the run to a requester, and refuses what it cannot do in one line,
with a non-zero exit status and no run left behind."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from rewardmodel.models import TrainingRun
from tests.celery_worker import redis_answers
from tests.conftest import client_for

pytestmark = pytest.mark.usefixtures("runs_dir")

ROOT = Path(__file__).resolve().parents[2]
# Our own Redis database: the command only checks that the broker answers and publishes
# after commit, which a test's transaction never reaches.
BROKER = os.environ.get("CELERY_BROKER_URL", "") or "redis://127.0.0.1:6379/0"


@pytest.fixture
def broker(settings):
    if not redis_answers(BROKER):
        pytest.skip(f"needs Redis at {BROKER}")
    settings.CELERY_BROKER_URL, settings.CELERY_TASK_ALWAYS_EAGER = BROKER, False
    return BROKER


@pytest.fixture
def no_broker(settings):
    settings.CELERY_BROKER_URL, settings.CELERY_TASK_ALWAYS_EAGER = "", True


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


def test_the_command_queues_a_run_when_a_broker_answers(broker, make_batch, capsys):
    call_command(
        "train_reward_model", "--batch", str(make_batch().id), "--model", "tiny", "--queue"
    )
    run = TrainingRun.objects.get()
    assert (run.status, run.queued_at is not None) == ("queued", True)
    assert f"Run {run.id} queued for the training worker." in capsys.readouterr().out


def test_queue_without_a_broker_is_refused_and_queues_nothing(no_broker, make_batch):
    with pytest.raises(CommandError, match="--queue needs a broker") as refused:
        call_command(
            "train_reward_model", "--batch", str(make_batch().id), "--model", "tiny", "--queue"
        )
    assert refused.value.returncode == 1
    assert "Leave out --queue to train here" in str(refused.value)
    assert not TrainingRun.objects.exists()


def test_queue_to_a_broker_that_does_not_answer_is_refused(settings, make_batch):
    settings.CELERY_BROKER_URL, settings.CELERY_TASK_ALWAYS_EAGER = "redis://127.0.0.1:1/0", False
    with pytest.raises(CommandError, match="does not answer"):
        call_command(
            "train_reward_model", "--batch", str(make_batch().id), "--model", "tiny", "--queue"
        )
    assert not TrainingRun.objects.exists()


def test_a_run_given_to_a_requester_shows_on_its_runs(broker, requester, make_batch, capsys):
    batch = make_batch()
    call_command(
        "train_reward_model",
        *("--batch", str(batch.id), "--model", "tiny", "--queue"),
        *("--requester", requester.user.username),
    )
    run = TrainingRun.objects.get()
    assert run.started_by == requester.user
    assert "belongs to no requester" not in capsys.readouterr().out
    listed = client_for(requester.user).get(reverse("runs")).json()["results"]
    assert [each["id"] for each in listed] == [run.id]


def test_a_run_without_a_requester_says_whose_it_is(broker, make_batch, capsys):
    call_command(
        "train_reward_model", "--batch", str(make_batch().id), "--model", "tiny", "--queue"
    )
    assert "belongs to no requester: only superusers see it" in capsys.readouterr().out


def test_the_requester_must_exist_and_own_the_batches(
    broker, make_batch, make_requester, django_user_model
):
    batch = make_batch()
    django_user_model.objects.create_user("not-a-requester")
    for name in ("nobody", "not-a-requester"):
        with pytest.raises(CommandError, match=f"no requester '{name}'"):
            call_command(
                "train_reward_model",
                *("--batch", str(batch.id), "--model", "tiny", "--requester", name),
            )
    other = make_requester()
    with pytest.raises(CommandError, match="You can only train on your own batches"):
        call_command(
            "train_reward_model",
            *("--batch", str(batch.id), "--model", "tiny", "--queue"),
            *("--requester", other.user.username),
        )
    assert not TrainingRun.objects.exists()


def test_without_the_training_stack_the_foreground_command_says_how_to_install_it():
    """A child process, with the stack made unimportable (nothing uninstalled): exit 2
    before anything is read or written."""
    blocker = (
        "import importlib.abc, sys\n"
        "from rewardmodel.pipeline.stack import TRAINING_PACKAGES\n"
        "class NotInstalled(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in TRAINING_PACKAGES:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NotInstalled())\n"
        "from django.core.management import execute_from_command_line\n"
        "execute_from_command_line(['manage.py', *sys.argv[1:]])\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "marketplace.settings",
        "DEBUG": "1",
    }  # as make run
    done = subprocess.run(
        [sys.executable, "-c", blocker, "train_reward_model", "--batch", "1", "--model", "tiny"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "The training stack is not installed" in done.stderr
    assert "make install-train" in done.stderr
    assert "Traceback" not in done.stderr
