"""Training speed on this CPU: bfloat16 autocast against float32, for a model of the miniature's shape.

    python -m potcot.benchmarks.performance.training_precision [--hidden 192] [--layers 4] [--steps 3]

A precision that is a speed-up on one CPU is a slow-down on another: autocast to bfloat16 is fast
where the CPU has AVX-512 BF16 or AMX and emulated where it has not. This times forward, backward
and an AdamW step of a Llama trained from nothing (``training/configs/miniature.yaml``'s shape by
default) on random token batches, float32 first as the baseline, and prints tokens/s for each and
bfloat16's ratio to float32, so a training config can choose its precision from a measurement.
"""

from __future__ import annotations

import argparse
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def tokens_per_second(model: LlamaForCausalLM, batch: torch.Tensor, steps: int, bf16: bool) -> float:
    """The best of ``steps`` timed training steps, after one untimed warm-up step."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=192)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=3)
    parser.add_argument("--intermediate", type=int, default=512)
    parser.add_argument("--vocab", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=144, help="tokens per sequence (the family's mean is ~145)")
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.heads,
        intermediate_size=args.intermediate,
        max_position_embeddings=max(512, args.length),
        tie_word_embeddings=True,  # as training/scratch.py builds it
    )
    batch = torch.randint(0, args.vocab, (args.batch, args.length))
    baseline = LlamaForCausalLM(config)
    parameters = sum(p.numel() for p in baseline.parameters())
    print(f"Llama of {parameters / 1e6:.2f}M parameters, batches of {args.batch} x {args.length} tokens, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    float32 = tokens_per_second(baseline, batch, args.steps, bf16=False)
    bfloat16 = tokens_per_second(LlamaForCausalLM(config), batch, args.steps, bf16=True)
    print(f"float32 (baseline):  {float32:8.0f} tokens/s")
    print(f"bfloat16 autocast:   {bfloat16:8.0f} tokens/s")
    print(f"ratio:               {bfloat16 / float32:8.3f} (bfloat16 / float32)")


if __name__ == "__main__":
    main()
