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
DEMO_FILE = Path(__file__).resolve().parents[2] / "demo" / "pairwise.jsonl"


class Command(BaseCommand):
    help = "Create the demo requester and demo batches (pairwise, ranking, likert)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo")

    def handle(self, *args: Any, username: str, password: str, **options: Any) -> None:
        requester = Requester.objects.filter(user__username=username).first()
        if requester is not None:
            self.stdout.write(f"Demo data already loaded (requester {username!r}).")
            return
        requester, token = create_requester(username=username, password=password)
        items = [json.loads(line) for line in DEMO_FILE.read_text().splitlines() if line.strip()]
        batches = [
            ("Everyday questions: which answer is better?", "pairwise", items, 3),
            ("Rank the answers", "ranking", items[:6], 2),
            ("Score each answer", "likert", items[6:12], 2),
        ]
        # Batches reserve their cost: fund the requester with a deposit paid on the fake node.
        cost_msat = sum(REWARD_MSAT * overlap * len(b_items) for _, _, b_items, overlap in batches)
        deposit = fund_requester(requester=requester, amount_msat=2 * cost_msat)
        self.stdout.write(f"Deposit {deposit.id}: {deposit.amount_msat} msat ({deposit.status})")
        for name, task_type, batch_items, overlap in batches:
            batch = batch_services.create_batch(
                requester=requester,
                name=name,
                task_type=task_type,
                instructions=INSTRUCTIONS[task_type],
                reward_msat=REWARD_MSAT,
                overlap=overlap,
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
