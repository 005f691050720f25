"""Batches with approved ratings that follow a learnable rule (the polite answer wins), the
tiny models built once per session, and a runs folder per test."""

import os
import random
from pathlib import Path

import pytest

from labeling.services import assignments as assignment_services
from labeling.services import ratings as rating_services

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every model here is built locally

WORDS = ["sun", "water", "tree", "house", "river", "cloud", "stone", "road", "light", "small"]


def polite_items(count: int, *, seed: int = 0, responses: int = 2) -> list[dict]:
    """Items whose one answer says "thank you": a rule a tiny reward model learns."""
    rng = random.Random(seed)
    items = []
    for number in range(count):
        texts = [" ".join(rng.choices(WORDS, k=rng.randint(3, 7))) for _ in range(responses)]
        texts[0] += " thank you"
        rng.shuffle(texts)
        items.append(
            {
                "prompt": f"Item {number}: say something about the {WORDS[number % 10]}.",
                "responses": [{"id": chr(97 + i), "text": t} for i, t in enumerate(texts)],
            }
        )
    return items


def rate_all(batch, workers) -> None:
    """Each worker answers every task it gets, putting the polite answer first."""
    for worker in workers:
        while (assignment := assignment_services.next_assignment_for(worker=worker)) is not None:
            texts = {r.key: r.text for r in assignment.item.responses.all()}
            ranking = sorted(assignment.order, key=lambda key: "thank you" not in texts[key])
            if batch.task_type == "pairwise":
                ranking = ranking[:2]
            rating_services.submit_rating(
                worker=worker, assignment_id=assignment.id, ranking=ranking
            )


@pytest.fixture
def rated_batch(make_batch, make_worker):
    def make(items: int = 30, *, overlap: int = 2, task_type: str = "pairwise", seed: int = 0):
        responses = 2 if task_type == "pairwise" else 3
        batch = make_batch(
            task_type,
            items=polite_items(items, seed=seed, responses=responses),
            overlap=overlap,
            reward_msat=1_000,
        )
        rate_all(batch, [make_worker() for _ in range(overlap)])
        return batch

    return make


@pytest.fixture(scope="session")
def tiny_model_folders(tmp_path_factory) -> dict[str, str]:
    pytest.importorskip("trl")
    from rewardmodel.pipeline.tiny import TinyArgs, build_tiny_models

    return build_tiny_models(TinyArgs(out=str(tmp_path_factory.mktemp("tiny"))))


@pytest.fixture
def tiny_models(settings, tiny_model_folders) -> dict[str, str]:
    """The tiny models registered as the site's base models; their names by role."""
    settings.TRAINING_BASE_MODELS = {
        f"tiny-{role}": folder for role, folder in tiny_model_folders.items()
    }
    return {role: f"tiny-{role}" for role in tiny_model_folders}


@pytest.fixture
def runs_dir(settings, tmp_path) -> Path:
    """Where runs write their data and models: a fresh folder per test."""
    settings.TRAINING_RUNS_DIR = tmp_path / "runs"
    return settings.TRAINING_RUNS_DIR
