"""Tiny random-weight models built offline, so the pipeline runs in seconds without downloads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    LlamaForSequenceClassification,
    PreTrainedTokenizerFast,
)

CORPUS = Path(__file__).with_name("corpus.txt")
PAD, BOS, EOS = "<pad>", "<|im_start|>", "<|im_end|>"

# ChatML, as SmolLM2-Instruct uses, so prompts look alike for tiny and real models.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass
class TinyArgs:
    out: str = field(metadata={"help": "Folder that receives policy/ and reward/."})
    vocab_size: int = field(default=512, metadata={"help": "BPE vocabulary size."})
    hidden_size: int = field(default=64, metadata={"help": "Width of the transformer."})
    num_layers: int = field(default=2, metadata={"help": "Number of decoder layers."})
    seed: int = field(default=0, metadata={"help": "Seed for the random weights."})


def train_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE on the bundled corpus: any text encodes, common words are one token."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS.read_text().splitlines(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=PAD,
        bos_token=BOS,
        eos_token=EOS,
        chat_template=CHAT_TEMPLATE,
    )


def build_tiny_models(args: TinyArgs) -> dict[str, str]:
    import torch

    torch.manual_seed(args.seed)
    tokenizer = train_tokenizer(args.vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=args.hidden_size,
        intermediate_size=args.hidden_size * 2,
        num_hidden_layers=args.num_layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    out = Path(args.out)
    policy_dir, reward_dir = out / "policy", out / "reward"

    policy = LlamaForCausalLM(config)
    policy.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    policy.save_pretrained(policy_dir)
    tokenizer.save_pretrained(policy_dir)

    config.num_labels = 1
    LlamaForSequenceClassification(config).save_pretrained(reward_dir)
    tokenizer.save_pretrained(reward_dir)
    return {"policy": str(policy_dir), "reward": str(reward_dir)}
