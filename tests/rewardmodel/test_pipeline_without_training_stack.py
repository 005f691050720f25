"""Without the training stack (what `make run` installs), the pipeline's command line says how
to install it and exits 2, instead of a traceback. The stack is made unimportable in a child
Python by a finder on sys.meta_path; nothing is uninstalled."""

import subprocess
import sys
from pathlib import Path

import pytest

from rewardmodel.pipeline.stack import TRAINING_PACKAGES

ROOT = Path(__file__).resolve().parents[2]
WITHOUT_STACK = f"""
import importlib.abc, runpy, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {TRAINING_PACKAGES!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
sys.argv = ["python -m rewardmodel.pipeline", *sys.argv[1:]]
runpy.run_module("rewardmodel.pipeline", run_name="__main__", alter_sys=True)
"""


def run_without_stack(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_STACK, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("tiny-models", "--out", "runs/tiny"),
        ("train-rm", "--data", "d", "--model", "m", "--out", "o"),
        ("--help",),
    ],
)
def test_the_pipeline_prints_the_install_command_and_exits_2(args):
    done = run_without_stack(*args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "The training stack is not installed" in done.stderr
    assert "make install-train" in done.stderr
    assert f"{sys.executable} -m pip install torch==2.13.0" in done.stderr
    assert "-e '.[train]'" in done.stderr
