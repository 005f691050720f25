"""Training curves as PNG files, for people who would rather look than read logs."""

from pathlib import Path
from typing import Any

Series = tuple[str, list[float], list[float]]  # (label, steps, values)


def series(log_history: list[dict[str, Any]], key: str, label: str) -> Series:
    rows = [row for row in log_history if key in row and row[key] is not None]
    return label, [row.get("step", i) for i, row in enumerate(rows)], [row[key] for row in rows]


def first_logged(log_history: list[dict[str, Any]], keys: list[str], label: str) -> Series:
    """The first of `keys` the trainer logged (names differ between TRL trainers)."""
    for key in keys:
        found = series(log_history, key, label)
        if found[1]:
            return found
    return label, [], []


def plot_panels(panels: list[tuple[str, list[Series], tuple | None]], path: Path) -> None:
    """One panel per (title, series, y-limits) side by side; empty series are skipped."""
    import matplotlib

    matplotlib.use("Agg")  # no display on training machines
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for axis, (title, lines, ylim) in zip(axes[0], panels, strict=True):
        for label, steps, values in lines:
            if steps:
                axis.plot(steps, values, marker=".", label=label)
        axis.set(title=title, xlabel="step")
        if ylim:
            axis.set_ylim(*ylim)
        if any(steps for _, steps, _ in lines):
            axis.legend()
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
