"""Finding and loading a diffusers pipeline, with one clear paragraph for every way it fails.

``I2V_MODEL`` may be a preset name, a Hugging Face repo id, or a local folder. For a
repo id or folder the family comes from ``model_index.json``'s ``_class_name``, so a
user's own fine-tune of a supported model just works.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from i2v.engine.presets import (
    DISTILLED_UP_TO_GB,
    FAMILY_BY_CLASS,
    PRESET_BY_CLASS,
    PRESET_BY_FAMILY,
    PRESETS,
    Preset,
)
from i2v.errors import EngineError, ErrorCode

_SUPPORTED = ", ".join(sorted(FAMILY_BY_CLASS))


@dataclass(frozen=True)
class ModelSource:
    """Where a model's weights are and which preset drives them."""

    preset: Preset
    #: A repo id or a folder path, as passed to ``from_pretrained``.
    location: str
    #: True for a local folder: never touch the network for it.
    local: bool


def _fail(message: str) -> EngineError:
    return EngineError(ErrorCode.MODEL_LOAD_FAILED, message)


def is_offline() -> bool:
    """True when the Hugging Face hub must not be contacted (HF_HUB_OFFLINE)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def resolve_model(model: str) -> ModelSource:
    """Turn an ``I2V_MODEL`` value into a preset and a location; raise EngineError if unusable."""
    if model in PRESETS:
        preset = PRESETS[model]
        return ModelSource(preset, preset.repo_id, local=False)
    folder = Path(model).expanduser()
    if folder.is_dir():
        return ModelSource(
            _preset_from_index(folder / "model_index.json", model), str(folder), True
        )
    looks_like_path = (
        model.startswith((".", "~", "/", "\\")) or ":" in model or model.count("/") > 1
    )
    if looks_like_path or folder.exists():
        raise _fail(
            f"The model folder {model} does not exist (or is not a folder). Set I2V_MODEL to a "
            "folder that holds a diffusers model_index.json, or to a preset name: "
            f"{', '.join(PRESETS)}."
        )
    if model.count("/") != 1:
        raise _fail(
            f"I2V_MODEL={model} is neither a preset ({', '.join(PRESETS)}), a Hugging Face repo "
            "id like Lightricks/LTX-Video, nor an existing folder."
        )
    return ModelSource(_preset_from_hub(model), model, local=False)


def _preset_from_index(index: Path, model: str) -> Preset:
    if not index.is_file():
        raise _fail(
            f"The folder {model} has no model_index.json, so it is not a diffusers pipeline. "
            "Point I2V_MODEL at the folder that contains model_index.json, or download a model "
            f"into it, e.g. `huggingface-cli download Lightricks/LTX-Video --local-dir {model}`."
        )
    try:
        class_name = json.loads(index.read_text(encoding="utf-8"))["_class_name"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _fail(
            f"{index} is damaged ({exc.__class__.__name__}: {exc}). Delete the folder and "
            "download the model again with `huggingface-cli download <repo-id> --local-dir "
            f"{model}`."
        ) from None
    return _preset_for_class(str(class_name), model, location=model)


def _preset_for_class(class_name: str, model: str, location: str) -> Preset:
    family = FAMILY_BY_CLASS.get(class_name)
    if family is None:
        raise _fail(
            f"{model} is a {class_name}, which i2v cannot drive. Supported image-to-video "
            f"pipelines: {_SUPPORTED}. Set I2V_MODEL to one of the presets "
            f"({', '.join(PRESETS)}) or to a model of a supported kind."
        )
    base = PRESET_BY_CLASS.get(class_name, PRESET_BY_FAMILY[family])
    # A folder or repo holds every component itself (no single file on top), in its own
    # precision (a folder saved without fp16 variant files has none).
    return dataclasses.replace(base, name=model, repo_id=location, single_file=None, variant=None)


def _preset_from_hub(repo_id: str) -> Preset:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        index = hf_hub_download(repo_id, "model_index.json", local_files_only=is_offline())
    except LocalEntryNotFoundError:
        raise _fail(missing_weights_message(repo_id)) from None
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise _fail(
            f"Could not read {repo_id} from Hugging Face ({exc}). Check the repo id and your "
            "connection; for a gated model run `huggingface-cli login` first."
        ) from None
    return _preset_from_index(Path(index), repo_id)


def missing_weights_message(repo_id: str) -> str:
    """The paragraph for weights that are not on this machine while offline."""
    return (
        f"The weights of {repo_id} are not on this machine and HF_HUB_OFFLINE is set, so they "
        f"cannot be downloaded. Run `huggingface-cli download {repo_id}` on a connected "
        "machine (then copy the Hugging Face cache here), or unset HF_HUB_OFFLINE, or set "
        "I2V_ENGINE=kenburns to make videos without a model."
    )


def for_card(source: ModelSource, model: str, total_vram_gb: float) -> ModelSource:
    """Resolve the ``ltx-video`` alias for this card: distilled up to 16 GB, 50-step above."""
    if model != "ltx-video" or total_vram_gb <= DISTILLED_UP_TO_GB:
        return source
    quality = dataclasses.replace(PRESETS["ltx-video-quality"], name=model)
    return ModelSource(quality, quality.repo_id, local=False)


def check_disk(source: ModelSource) -> None:
    """Refuse to start a download that cannot fit on the disk holding the Hugging Face cache."""
    if source.local or is_offline():
        return
    from huggingface_hub import constants, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(source.location, "model_index.json"), str):
        return  # Already downloaded (at least started); from_pretrained resumes what is missing.
    cache = Path(constants.HF_HUB_CACHE)
    probe = cache if cache.exists() else cache.anchor or Path.cwd()
    free_gb = shutil.disk_usage(probe).free / 1e9
    if free_gb < source.preset.disk_gb:
        raise _fail(
            f"{source.location} needs about {source.preset.disk_gb:.0f} GB of disk and only "
            f"{free_gb:.0f} GB is free at {cache}. Free some space, or set HF_HOME to a folder "
            "on a larger disk."
        )


def dtype_argument(dtype: Any) -> dict[str, Any]:
    """``dtype=`` where diffusers takes it (``torch_dtype`` is deprecated there), else the old name."""
    try:
        from diffusers.utils.deprecation_utils import _resolve_dtype  # noqa: F401
    except ImportError:
        return {"torch_dtype": dtype}
    return {"dtype": dtype}


def load_pipeline(source: ModelSource, dtype: Any) -> Any:
    """Load the pipeline through ``from_pretrained``; map every failure to one paragraph."""
    import diffusers

    preset = source.preset
    pipeline_class = getattr(diffusers, preset.pipeline_class)
    local_only = source.local or is_offline()
    # Weights load through the meta device straight into place: no second copy in RAM.
    arguments: dict[str, Any] = {
        **dtype_argument(dtype),
        "local_files_only": local_only,
        "low_cpu_mem_usage": True,
    }
    if preset.variant is not None:
        arguments["variant"] = preset.variant
    try:
        if preset.single_file is not None:
            arguments.update(single_file_components(preset, dtype, local_only))
        if preset.family == "wan":
            # The diffusers Wan docs decode with AutoencoderKLWan in float32 for quality.
            wan_vae: Any = diffusers.AutoencoderKLWan
            arguments["vae"] = wan_vae.from_pretrained(
                source.location,
                subfolder="vae",
                local_files_only=local_only,
                **dtype_argument(_float32()),
            )
        return pipeline_class.from_pretrained(source.location, **arguments)
    except Exception as exc:  # diffusers raises many types here; every one needs a sentence.
        from huggingface_hub.errors import LocalEntryNotFoundError

        if isinstance(exc, LocalEntryNotFoundError) and not source.local:
            raise _fail(missing_weights_message(source.location)) from exc
        where = source.location
        fix = (
            f"Delete the folder and download it again with `huggingface-cli download <repo-id> "
            f"--local-dir {where}`."
            if source.local
            else f"Run `huggingface-cli download {where}` to repair the download."
        )
        raise _fail(
            f"Could not load the model from {where}: {exc.__class__.__name__}: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else 'no details'}. "
            f"Its files look incomplete or damaged. {fix}"
        ) from exc


def single_file_components(preset: Preset, dtype: Any, local_only: bool) -> dict[str, Any]:
    """Transformer (and VAE, when the file holds one) from a one-file checkpoint.

    The base repo's configs shape the models: ``from_single_file`` would otherwise
    guess them from the keys, and it guesses the 13B layout for every 0.9.7+ file.
    """
    import diffusers

    path = single_file_path(preset, local_only)
    common = {**dtype_argument(dtype), "local_files_only": local_only, "config": preset.repo_id}
    parts = {
        "transformer": diffusers.LTXVideoTransformer3DModel.from_single_file(
            path, subfolder="transformer", **common
        )
    }
    if _holds_vae(path):
        parts["vae"] = diffusers.AutoencoderKLLTXVideo.from_single_file(
            path, subfolder="vae", **common
        )
    return parts


def single_file_path(preset: Preset, local_only: bool) -> str:
    """The local path of a preset's single-file checkpoint, downloading it into the HF cache."""
    assert preset.single_file is not None
    if Path(preset.single_file).is_file():
        return preset.single_file
    from huggingface_hub import hf_hub_download

    # https://huggingface.co/<owner>/<repo>/blob/<revision>/<file>
    owner, repo, _blob, revision, filename = preset.single_file.split("/", 3)[3].split("/", 4)
    return hf_hub_download(
        f"{owner}/{repo}", filename, revision=revision, local_files_only=local_only
    )


def _holds_vae(path: str) -> bool:
    from safetensors import safe_open

    with safe_open(path, framework="pt") as weights:
        return any(key.startswith("vae.") for key in weights.keys())  # noqa: SIM118


def _float32() -> Any:
    import torch

    return torch.float32
