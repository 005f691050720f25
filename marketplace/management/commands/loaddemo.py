"""Loads demo data: a requester and funded batches of realistic tasks. Safe to run twice."""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from labeling.models import Requester
from labeling.services import batches as batch_services
from labeling.services.requesters import create_requester
from payouts.services.deposits import fund_requester

REWARD_MSAT = 10_000
OVERLAP = 3
DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
NAMES = {
    "pairwise": "Everyday questions: which answer is better?",
    "ranking": "Rank the answers",
    "likert": "Score each answer",
}
# Tasks are served batch by batch, so the demo posts its items as rounds of small batches (one
# ranking, one Likert and three pairwise items each): wherever the crowd has got to, any five
# tasks in a row hold every type, so a newcomer meets all three at once.
ROUNDS = 8
ROUND_ORDER = ("ranking", "likert", "pairwise")


def demo_items(task_type: str) -> list[dict[str, Any]]:
    lines = (DEMO_DIR / f"{task_type}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def demo_batches() -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(name, task type, items) for each demo batch, in the order they are posted."""
    items = {task_type: demo_items(task_type) for task_type in ROUND_ORDER}
    batches = []
    for n in range(ROUNDS):
        for task_type in ROUND_ORDER:
            size = len(items[task_type]) // ROUNDS
            name = f"{NAMES[task_type]} ({n + 1}/{ROUNDS})"
            batches.append((name, task_type, items[task_type][n * size : (n + 1) * size]))
    return batches


class Command(BaseCommand):
    help = "Create the demo requester and demo batches (ranking, Likert and pairwise, mixed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo")

    def handle(self, *args: Any, username: str, password: str, **options: Any) -> None:
        requester = Requester.objects.filter(user__username=username).first()
        if requester is not None:
            self.stdout.write(f"Demo data already loaded (requester {username!r}).")
            return
        requester, token = create_requester(username=username, password=password)
        batches = demo_batches()
        # Batches reserve their cost: fund the requester with a deposit paid on the fake node.
        cost_msat = sum(REWARD_MSAT * OVERLAP * len(b_items) for _, _, b_items in batches)
        deposit = fund_requester(requester=requester, amount_msat=2 * cost_msat)
        self.stdout.write(f"Deposit {deposit.id}: {deposit.amount_msat} msat ({deposit.status})")
        for name, task_type, batch_items in batches:
            batch = batch_services.create_batch(
                requester=requester,
                name=name,
                task_type=task_type,
                instructions=INSTRUCTIONS[task_type],
                reward_msat=REWARD_MSAT,
                overlap=OVERLAP,
                items=batch_services.validate_items(task_type=task_type, items=batch_items),
            )
            self.stdout.write(f"Batch {batch.id}: {name} ({batch.items_count} items)")
        self.stdout.write(f"Requester {username!r} (admin password {password!r}), token {token}")


INSTRUCTIONS = {
    "pairwise": "Pick the answer that is **more helpful, correct and safe**.\n\n"
    "- Prefer answers that actually answer the question.\n"
    "- A short correct answer beats a long wrong one.",
    "ranking": "Tap the answers from **best** to **worst**: most helpful and correct first.",
    "likert": "Score each answer from 1 (useless or wrong) to 7 (excellent: correct, clear, "
    "complete).",
}
