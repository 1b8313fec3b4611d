"""Training speed on this CPU, for the miniature's model: what gradient checkpointing and bfloat16
autocast each cost or gain against plain float32.

    python -m potcot.training.performance.training_speed [--config training/configs/miniature.yaml]

Both are settings a run can get without asking: TRL's ``SFTConfig`` turns gradient checkpointing
on by default, which recomputes every layer's forward during the backward to save activation
memory, a trade a model of a million parameters on a CPU only loses. And autocast to bfloat16 is
fast where the CPU has AVX-512 BF16 or AMX and emulated where it has not. This times forward,
backward and an AdamW step of the config's Llama (its ``scratch`` shape and per-device batch) on
random token batches, float32 first as the baseline, and prints tokens/s for each and its ratio
to float32, so a training config can choose from a measurement.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from transformers import LlamaForCausalLM

from potcot.training.config import TrainConfig
from potcot.training.scratch import ScratchModel, llama_config

MINIATURE = Path(__file__).parents[1] / "configs" / "miniature.yaml"


def tokens_per_second(model: LlamaForCausalLM, batch: torch.Tensor, steps: int, bf16: bool) -> float:
    """The best of ``steps`` timed training steps, after one untimed warm-up step."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    best = float("inf")
    for step in range(steps + 1):
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step:
            best = min(best, time.perf_counter() - started)
    return batch.numel() / best


def fresh_model(spec: ScratchModel, checkpointing: bool = False) -> LlamaForCausalLM:
    """The same initial weights for every variant, so each times the same arithmetic."""
    torch.manual_seed(spec.seed)
    model = LlamaForCausalLM(llama_config(spec, spec.vocab_size))
    model.config.use_cache = False  # training keeps no cache; checkpointing warns of one
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=MINIATURE, help="a training config with a scratch model")
    parser.add_argument("--length", type=int, default=144, help="tokens per sequence (the family's mean is ~145)")
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()

    config = TrainConfig.from_file(args.config)
    spec = config.scratch or ScratchModel()
    batch = torch.randint(0, spec.vocab_size, (config.sft.per_device_train_batch_size, args.length))
    baseline = fresh_model(spec)
    parameters = sum(p.numel() for p in baseline.parameters())
    print(f"Llama of {parameters / 1e6:.2f}M parameters ({args.config.name}), batches of "
          f"{batch.shape[0]} x {batch.shape[1]} tokens, {torch.get_num_threads()} threads")  # fmt: skip
    float32 = tokens_per_second(baseline, batch, args.steps, bf16=False)
    print(f"float32 (baseline):       {float32:8.0f} tokens/s")
    variants = {  # name: (model, bf16)
        "gradient checkpointing": (fresh_model(spec, checkpointing=True), False),
        "bfloat16 autocast": (fresh_model(spec), True),
    }
    for name, (model, bf16) in variants.items():
        speed = tokens_per_second(model, batch, args.steps, bf16=bf16)
        print(f"{name + ':':25s} {speed:8.0f} tokens/s, {speed / float32:.3f}x float32")


if __name__ == "__main__":
    main()
