"""A model trained from nothing: a small Llama, and a tokenizer learnt from the training records.

The tokenizer is a byte-level BPE whose every digit is a token of its own, so a number reaches the
model digit by digit, the way written arithmetic works on it (a BPE free to merge digits gives
``347`` and ``348`` unrelated tokens). It has no chat template, so potcot serves the checkpoint with
Alpaca prompts, the ones it is trained on. The initial checkpoint is an ordinary Hugging Face folder:
the trainer starts from it, and what training saves is what ``potcot serve --model`` and vLLM load.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from potcot.server.prompts import PromptStyle, render
from potcot.training.records import read_jsonl

BOS, EOS, PAD = "<s>", "</s>", "<pad>"


@dataclasses.dataclass(frozen=True)
class ScratchModel:
    """The shape of the model and the tokenizer's vocabulary; the defaults are about 3.4M
    parameters (``training/configs/miniature.yaml`` chooses a smaller one for 2 CPU cores). The head
    size, ``hidden_size / num_heads``, must be one vLLM's attention takes (on CPU: 32 to 256)."""

    vocab_size: int = 1000
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 688
    max_position_embeddings: int = 1024
    seed: int = 0

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} does not divide into {self.num_heads} heads")


def build_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE learnt from ``texts``, with single-digit tokens."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, pad_token=PAD, clean_up_tokenization_spaces=False
    )


def build_model(spec: ScratchModel, tokenizer: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    config = llama_config(spec, len(tokenizer))
    config.bos_token_id, config.eos_token_id = tokenizer.bos_token_id, tokenizer.eos_token_id
    config.pad_token_id = tokenizer.pad_token_id
    return LlamaForCausalLM(config)


def llama_config(spec: ScratchModel, vocab_size: int) -> LlamaConfig:
    """The Llama of this shape, its input and output embeddings one matrix, as small models have
    them (SmolLM2's too): at this size an untied head would add a seventh to the parameters."""
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_heads,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=True,
    )


def initial_checkpoint(spec: ScratchModel, train_file: Path, directory: Path) -> Path:
    """The untrained model and its tokenizer, learnt from the training records as they are rendered
    for training (Alpaca prompts and responses), saved in ``directory``; made once and reused, so a
    resumed run starts from the same tokenizer."""
    if (directory / "config.json").exists():
        return directory
    records = read_jsonl(train_file)
    texts = ((render(record["instruction"], PromptStyle.ALPACA).text or "") + record["output"] for record in records)
    tokenizer = build_tokenizer(texts, spec.vocab_size)
    tokenizer.model_max_length = spec.max_position_embeddings
    torch.manual_seed(spec.seed)
    model = build_model(spec, tokenizer)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
