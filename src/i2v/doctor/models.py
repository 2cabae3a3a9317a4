"""Which model preset the settings name, and whether its weights are on this disk."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from i2v.engine.presets import FAMILY_BY_CLASS, PRESET_BY_FAMILY, PRESETS, Preset


@dataclass(frozen=True)
class ModelWeights:
    """Where a model's weights are (or would be downloaded to), and whether they are complete."""

    #: The preset whose VRAM and disk figures apply; None for an unknown pipeline.
    preset: Preset | None
    #: The Hugging Face repo to download, or None for a local folder.
    repo_id: str | None
    #: The folder holding model_index.json, when found.
    folder: Path | None
    #: Component folders model_index.json names that are missing.
    missing: tuple[str, ...] = ()

    @property
    def present(self) -> bool:
        """True when the folder is there with every component it names."""
        return self.folder is not None and not self.missing


#: Components a one-file checkpoint (LTX-Video 0.9.8 2B distilled) brings instead of its repo.
SINGLE_FILE_COMPONENTS = frozenset({"transformer", "vae"})


def find_weights(model: str, hf_cache: Path) -> ModelWeights:
    """Resolve ``model`` (preset name, repo id or local folder) to its weights on disk."""
    if model in PRESETS:
        preset = PRESETS[model]
        found = _from_folder(_cached_snapshot(preset.repo_id, hf_cache), preset.repo_id, preset)
        return _with_single_file(found, preset, hf_cache) if preset.single_file else found
    local = Path(model).expanduser()
    if local.is_dir():
        return _from_folder(local if (local / "model_index.json").is_file() else None, None, None)
    by_repo = {p.repo_id: p for p in PRESETS.values()}
    return _from_folder(_cached_snapshot(model, hf_cache), model, by_repo.get(model))


def _from_folder(folder: Path | None, repo_id: str | None, preset: Preset | None) -> ModelWeights:
    if folder is None:
        return ModelWeights(preset, repo_id, None)
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ModelWeights(preset, repo_id, folder, missing=("model_index.json",))
    family = FAMILY_BY_CLASS.get(str(index.get("_class_name")))
    if preset is None and family is not None:
        preset = PRESET_BY_FAMILY[family]
    # Entries like "vae": ["diffusers", "AutoencoderKL"] are components; [null, null] are absent on purpose.
    components = [
        name
        for name, value in index.items()
        if not name.startswith("_") and isinstance(value, list) and value and value[0] is not None
    ]
    missing = tuple(name for name in components if not (folder / name).is_dir())
    return ModelWeights(preset, repo_id, folder, missing)


def _cached_snapshot(repo_id: str, hf_cache: Path) -> Path | None:
    """The newest snapshot of ``repo_id`` in the hub cache that has a model_index.json."""
    snapshots = hf_cache / f"models--{repo_id.replace('/', '--')}" / "snapshots"
    if not snapshots.is_dir():
        return None
    ref = snapshots.parent / "refs" / "main"
    if ref.is_file():
        pinned = snapshots / ref.read_text(encoding="utf-8").strip()
        if (pinned / "model_index.json").is_file():
            return pinned
    found = [s for s in snapshots.iterdir() if (s / "model_index.json").is_file()]
    return max(found, key=lambda s: s.stat().st_mtime) if found else None


def _with_single_file(found: ModelWeights, preset: Preset, hf_cache: Path) -> ModelWeights:
    """The base repo needs no transformer or VAE of its own; the one-file checkpoint must be there.

    The engine loads those two from the checkpoint and only the text encoder,
    tokenizer and scheduler from the repo, so the repo's snapshot never holds them.
    """
    assert preset.single_file is not None
    if found.folder is None:
        return found
    missing = [name for name in found.missing if name not in SINGLE_FILE_COMPONENTS]
    if not _single_file_cached(preset.single_file, hf_cache):
        missing.append(preset.single_file.rsplit("/", 1)[-1])
    return dataclasses.replace(found, missing=tuple(missing))


def _single_file_cached(location: str, hf_cache: Path) -> bool:
    """True when the checkpoint (a local file, or a hub URL .../<owner>/<repo>/blob/<rev>/<file>) is here."""
    if Path(location).is_file():
        return True
    parts = location.split("/")
    if len(parts) < 8 or parts[5] != "blob":
        return False
    owner, repo, filename = parts[3], parts[4], "/".join(parts[7:])
    snapshots = hf_cache / f"models--{owner}--{repo}" / "snapshots"
    return snapshots.is_dir() and any((s / filename).is_file() for s in snapshots.iterdir())
