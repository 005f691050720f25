"""A batch's quality options: what a requester may set, checked into Batch field values."""

from typing import Any

from django.utils.translation import gettext as _

from ..errors import InvalidBatch
from ..models import Batch

QUALITY_FIELDS = {
    "review_mode": str,
    "auto_approve_trust": float,
    "review_after_hours": int,
    "pause_below_trust": float,
    "min_seconds": int,
    "qualification_size": int,
    "gold_overlap": int,
    "bonus_percent": int,
    "bonus_trust": float,
    "pay_gold": bool,
    "qualification_pass": float,
    "min_confidence": float,
}


def clean_quality_options(options: dict[str, Any]) -> dict[str, Any]:
    """Validates a batch's quality options (all optional) into Batch field values."""
    unknown = set(options) - set(QUALITY_FIELDS)
    if unknown:
        names = ", ".join(sorted(unknown))
        raise InvalidBatch({"quality": [_("Unknown option(s): %(names)s.") % {"names": names}]})
    clean: dict[str, Any] = {}
    for name, value in options.items():
        if value is None and name in ("min_seconds", "min_confidence"):
            clean[name] = None
            continue
        kind = QUALITY_FIELDS[name]
        accepted = (int, float) if kind is float else kind
        if (kind is not bool and isinstance(value, bool)) or not isinstance(value, accepted):
            raise InvalidBatch({name: [_("Expected a %(kind)s.") % {"kind": kind.__name__}]})
        clean[name] = value
    if "review_mode" in clean and clean["review_mode"] not in Batch.Review.values:
        modes = ", ".join(Batch.Review.values)
        raise InvalidBatch({"review_mode": [_("One of: %(modes)s.") % {"modes": modes}]})
    if not 0 <= clean.get("bonus_percent", 0) <= 100:
        raise InvalidBatch({"bonus_percent": [_("Between 0 and 100.")]})
    for name in (
        "auto_approve_trust",
        "pause_below_trust",
        "qualification_pass",
        "bonus_trust",
        "min_confidence",
    ):
        if clean.get(name) is not None and not 0 <= clean[name] <= 1:
            raise InvalidBatch({name: [_("Between 0 and 1.")]})
    if not 1 <= clean.get("gold_overlap", 1) <= 1000:
        raise InvalidBatch({"gold_overlap": [_("Between 1 and 1000.")]})
    for name in ("review_after_hours", "min_seconds", "qualification_size"):
        if clean.get(name) is not None and not 0 <= clean[name] <= 10_000:
            raise InvalidBatch({name: [_("Between 0 and 10000.")]})
    return clean
