"""Writes the approved preferences of batches as TRL train/eval JSONL plus a dataset card."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeling.models import Batch
from rewardmodel.export import DEFAULT_EVAL_FRACTION, DEFAULT_LICENSE, export_preferences


class Command(BaseCommand):
    help = "Export approved, aggregated preferences as train.jsonl, eval.jsonl and README.md."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, action="append", required=True, dest="batches")
        parser.add_argument("--out", required=True, help="Folder to write into.")
        parser.add_argument("--eval-fraction", type=float, default=DEFAULT_EVAL_FRACTION)
        parser.add_argument("--no-margin", action="store_true", help="Leave out `margin`.")
        parser.add_argument("--license", default=DEFAULT_LICENSE, help="Dataset card licence.")

    def handle(self, *args: Any, **options: Any) -> None:
        batches = list(Batch.objects.filter(id__in=options["batches"]))
        missing = set(options["batches"]) - {batch.id for batch in batches}
        if missing:
            raise CommandError(f"no batch with id {', '.join(map(str, sorted(missing)))}")
        try:
            export = export_preferences(
                batches=batches,
                out=options["out"],
                eval_fraction=options["eval_fraction"],
                margin=not options["no_margin"],
                license=options["license"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        train_items, eval_items = export.items
        self.stdout.write(
            f"{len(export.train)} train pairs ({train_items} items), "
            f"{len(export.eval)} eval pairs ({eval_items} items) → {options['out']}"
        )
