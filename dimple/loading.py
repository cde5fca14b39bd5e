"""Finding and loading Dimple checkpoints: the shipped Dimple-Tiny, a local folder, or a hub id.

Owns name resolution (`"tiny"`, a folder, `owner/name` on the Hugging Face
hub), the safetensors-only rule (no pickle, no `trust_remote_code`), dtype and
device placement (one GPU, several through accelerate's device_map, or CPU),
and the messages a user sees when weights cannot be reached or do not fit. It
does not know about decoding or the UI.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional

import torch

from . import kernels
from .fast_paths import batch_vision_windows, fuse_projections
from .modeling import DimpleConfig, DimpleModel
from .int4_codes import read_codes
from .quantize import MODES as QUANTIZE_MODES, check_int4_options, check_quantize  # the app's too

def _assets_folder() -> Path:
    """The shipped assets: `dimple/assets` once pip-installed (package data), else the repository's assets/."""
    installed = Path(__file__).resolve().parent / "assets"
    return installed if installed.is_dir() else Path(__file__).resolve().parent.parent / "assets"


ASSETS = _assets_folder()
ALIASES = {"tiny": ASSETS / "dimple-tiny", "dimple-tiny": ASSETS / "dimple-tiny"}
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
HUB_FILES = ["*.json", "*.safetensors", "*.txt", "*.jinja", "tokenizer*", "vocab*", "merges*"]


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be found, read or placed; the message says what to do."""


def resolve_checkpoint(name: str) -> Path:
    """Map a model name to a local folder holding config.json and safetensors weights."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("model must be 'tiny', a folder path or a hub id like rp-yu/Dimple-7B")
    if name in ALIASES:
        folder = ALIASES[name]
        if not (folder / "config.json").exists():
            raise CheckpointError(f"Dimple-Tiny weights are missing from {folder}; run `python -m dimple.tiny.train --export {folder}`")
        return folder
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise CheckpointError(f"folder {path} holds no config.json, so it is not a model checkpoint")
        return path
    if HUB_ID.match(name) and ".." not in name:
        return _download(name)
    raise ValueError(f"model {name!r} is neither 'tiny', an existing folder, nor a hub id of the form owner/name")


def _download(repo_id: str) -> Path:
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:  # pragma: no cover - huggingface_hub comes with transformers
        raise CheckpointError("huggingface_hub is needed to download hub checkpoints") from exc
    try:
        return Path(snapshot_download(repo_id, allow_patterns=HUB_FILES))
    except Exception as exc:  # network, auth, missing repo: all end the same way for the user
        raise CheckpointError(
            f"could not fetch {repo_id} from the Hugging Face hub ({type(exc).__name__}: {exc}). "
            "Check the id and your connection, or download it yourself and pass the folder path."
        ) from exc


def checkpoint_files(folder: Path) -> list[Path]:
    """The safetensors files of a checkpoint (single or sharded); refuses pickle-only folders."""
    index = folder / "model.safetensors.index.json"
    if index.exists():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        missing = [s for s in shards if not (folder / s).exists()]
        if missing:
            raise CheckpointError(f"{folder} is missing shards listed in its index: {', '.join(missing[:5])}")
        return [folder / s for s in shards]
    single = folder / "model.safetensors"
    if single.exists():
        return [single]
    if any(folder.glob("*.bin")) or any(folder.glob("*.pt")):
        raise CheckpointError(f"{folder} has only pickle weights (.bin/.pt); Dimple Studio loads safetensors only")
    raise CheckpointError(f"{folder} holds no model.safetensors nor model.safetensors.index.json")


def weight_bytes(folder: Path, dtype: torch.dtype) -> int:
    """Bytes the weights take in `dtype`, read from the safetensors headers (no tensor is loaded)."""
    from safetensors import safe_open

    n = 0
    for f in checkpoint_files(folder):
        with safe_open(str(f), framework="pt") as handle:
            for key in handle.keys():
                n += _numel(handle.get_slice(key).get_shape())
    return n * torch.tensor([], dtype=dtype).element_size()


def _numel(shape) -> int:
    out = 1
    for d in shape:
        out *= int(d)
    return out


def pick_dtype(dtype, device: str) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    table = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16,
             "fp32": torch.float32, "float32": torch.float32}
    if dtype in (None, "auto"):
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if dtype not in table:
        raise ValueError(f"dtype must be one of auto, {', '.join(table)}; got {dtype!r}")
    return table[dtype]


def _check_fits(folder: Path, dtype: torch.dtype, device: str) -> None:
    if not device.startswith("cuda"):
        return
    if not torch.cuda.is_available():
        raise CheckpointError("device 'cuda' was asked for but no CUDA GPU is visible; use --device cpu")
    need = weight_bytes(folder, dtype)
    have = sum(torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count()))
    if need > have:
        raise CheckpointError(
            f"the weights need {need / 2**30:.1f} GiB in {dtype} but the GPUs have {have / 2**30:.1f} GiB free; "
            "try a smaller dtype or more GPUs"
        )


def load_model(name: str = "tiny", device: str = "cpu", dtype=None, pack: bool = True, quantize=None,
               kernel_settings: Optional[kernels.KernelSettings] = None, calibrate=None,
               int4_codes=None) -> DimpleModel:
    """Load a Dimple checkpoint in eval mode. device: "cpu", "cuda", "cuda:N" or "auto" (several GPUs).

    quantize: one of `dimple.quantize.MODES`: None, "int8" (weight-only: half the weight bytes), "w8a8" (int8
    activations too, CPU only) or "int4" (weight-only, groups of `KernelSettings.int4_group` columns: about a
    quarter of the bf16 bytes plus the group scales, CPU only). pack: let the kernel choice consider
    oneDNN-prepacked bf16 weights on a CPU (False: plain weights, nothing timed). Models small
    enough to fuse their projections (Dimple-Tiny) keep that path unless quantised; every other model gets
    its linear kernels chosen by measurement (`dimple.kernels`; the table is `model.kernel_choice`).
    calibrate (quantize="int4" only): a function that runs calibration passes on the model; the int4 codes
    are then chosen by GPTQ against each layer's inputs (`dimple.int4_gptq`), not from the weight alone.
    int4_codes (quantize="int4" only): a file of codes saved before (`python -m dimple.int4_codes`), read
    instead of chosen again: the load then costs what the float checkpoint's does."""
    folder = resolve_checkpoint(name)
    config = DimpleConfig.from_pretrained(str(folder))
    if config.model_type != "dimple":
        raise CheckpointError(f"{folder}/config.json has model_type {config.model_type!r}, expected 'dimple'")
    checkpoint_files(folder)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    several_gpus = device == "cuda" and torch.cuda.is_available() and torch.cuda.device_count() > 1
    check_quantize(quantize, device, several_gpus)
    check_int4_options(quantize, calibrate is not None, int4_codes is not None)
    saved = None if int4_codes is None else read_codes(int4_codes)  # a wrong file fails before the weights load
    torch_dtype = pick_dtype(dtype, device)
    _check_fits(folder, torch_dtype, device)
    kwargs = dict(dtype=torch_dtype, use_safetensors=True)
    if several_gpus:
        kwargs["device_map"] = "auto"  # accelerate spreads layers over the GPUs
    model = DimpleModel.from_pretrained(str(folder), config=config, **kwargs)
    if "device_map" not in kwargs:
        model = model.to(device)
    model.eval()
    batch_vision_windows(model)
    model.kernel_choice = []
    if quantize is not None:
        kernels.install(model, quantize, device, kernel_settings, calibrate=calibrate, int4_codes=saved)
    elif not fuse_projections(model) and pack and "device_map" not in kwargs:
        kernels.install(model, None, device, kernel_settings)
    model.quantize = quantize
    model.checkpoint_folder = str(folder)
    return model


def load_tokenizer(name_or_folder):
    from transformers import AutoTokenizer

    folder = name_or_folder if isinstance(name_or_folder, Path) else resolve_checkpoint(str(name_or_folder))
    return AutoTokenizer.from_pretrained(str(folder))


def load_image_processor(folder: Path, default_min: int = 3136, default_max: int = 12544):
    """Image settings from preprocessor_config.json when present."""
    from .processing import DimpleImageProcessor

    cfg_file = Path(folder) / "preprocessor_config.json"
    settings: dict = {}
    if cfg_file.exists():
        settings = json.loads(cfg_file.read_text())
    return DimpleImageProcessor(
        min_pixels=int(settings.get("min_pixels", default_min)),
        max_pixels=int(settings.get("max_pixels", default_max)),
        patch_size=int(settings.get("patch_size", 14)),
        merge_size=int(settings.get("merge_size", 2)),
        temporal_patch_size=int(settings.get("temporal_patch_size", 2)),
    )


def describe_device(model) -> str:
    p: Optional[torch.nn.Parameter] = next(model.parameters(), None)
    if p is None:
        return "unknown"
    quantized = f" · {model.quantize} linears" if getattr(model, "quantize", None) else ""  # the header says so
    return f"{p.device.type.upper()} · {str(p.dtype).replace('torch.', '')}{quantized}"
