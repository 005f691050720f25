"""Whether this machine has the training stack (the `train` extra), and how to install it.

Imports nothing heavy: it is what tells a user without torch what to do.
"""

from __future__ import annotations

import importlib.util
import sys

# The top-level modules of the `train` extra in pyproject.toml.
TRAINING_PACKAGES = (
    "torch",
    "trl",
    "transformers",
    "datasets",
    "peft",
    "accelerate",
    "tokenizers",
    "matplotlib",
    "gguf",
    "tqdm",
)
# The CPU build of torch goes first, pinned, so that the extra does not pull another one.
INSTALL_TRAIN = "make install-train"
PIP_INSTALL_TRAIN = "pip install torch==2.13.0 && pip install -e '.[train]'"


def is_training_package(module: str | None) -> bool:
    return (module or "").split(".")[0] in TRAINING_PACKAGES


def missing_package() -> str | None:
    """The first training package this interpreter cannot import, or None."""
    for name in TRAINING_PACKAGES:
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):
            return name
    return None


def install_hint(missing: str) -> str:
    """What to tell someone whose Python lacks `missing`: the commands for this very Python."""
    pip = f"{sys.executable} -m pip install"
    return (
        f"The training stack is not installed ({missing} is missing): the pipeline needs torch, "
        "TRL, transformers and datasets.\n"
        f"Install it from the project folder with:\n    {INSTALL_TRAIN}\n"
        f"or into this Python:\n    {pip} torch==2.13.0 && {pip} -e '.[train]'"
    )
