"""Starting runs for the run tests: through the service, without queueing a job."""

from rewardmodel.models import TrainingRun
from rewardmodel.services import runs as run_services


def rm_config(tiny_models: dict[str, str], **overrides) -> dict:
    return {"model": tiny_models["reward"], "epochs": 2, "lr": 1e-3, "batch_size": 8} | overrides


def start(batch, config, *, kind="rm", user=None) -> TrainingRun:
    return run_services.start_run(
        kind=kind, batches=[batch], config=config, started_by=user, queue=False
    )


def finished_run(batch, user, **fields) -> TrainingRun:
    """A run started by `user`, then given the fields a worker would have written."""
    run = start(batch, {"model": "tiny"}, user=user)
    TrainingRun.objects.filter(id=run.id).update(**fields)
    run.refresh_from_db()
    return run
