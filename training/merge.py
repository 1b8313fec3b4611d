"""Merging a LoRA adapter into its base model, so that vLLM and ``potcot serve --model`` load it."""

from __future__ import annotations

import json
from pathlib import Path

from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer


def merge_adapter(adapter_dir: Path, output_dir: Path) -> Path:
    """Fold the adapter's low-rank updates into the base weights named in its config, so the result
    is a plain checkpoint with the tokenizer the run saved beside the adapter."""
    base = json.loads((adapter_dir / "adapter_config.json").read_text())["base_model_name_or_path"]
    model = AutoModelForCausalLM.from_pretrained(base, dtype="auto")
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    merged.save_pretrained(str(output_dir))
    AutoTokenizer.from_pretrained(str(adapter_dir)).save_pretrained(str(output_dir))
    return output_dir
