"""Checks of what lives on disk: the data folder, free space for the weights, the weights themselves."""

from __future__ import annotations

import uuid

from i2v.config import Settings
from i2v.doctor.findings import Finding, Probe, Status
from i2v.doctor.models import ModelWeights

#: Room for the database, logs and a day of videos, beyond the weights.
DATA_MARGIN_GB = 2.0


def check_data_dir(settings: Settings) -> Finding:
    """The data folder exists (or can be made) and takes a file."""
    folder = settings.data_dir
    probe_file = folder / f".doctor-{uuid.uuid4().hex}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe_file.write_bytes(b"ok")
        probe_file.unlink()
    except OSError as exc:
        return Finding(
            "data folder",
            Status.FAIL,
            f"cannot write to {folder}: {exc.strerror or exc}",
            "set I2V_DATA_DIR to a folder you can write to, or fix its permissions",
        )
    return Finding("data folder", Status.PASS, f"{folder} is writable")


def check_disk(
    settings: Settings, probe: Probe, weights: ModelWeights | None, gpu: bool
) -> Finding:
    """Enough free disk for the data folder, and for the weights if they still have to come."""
    free_data = probe.free_disk_gb(settings.data_dir)
    if free_data < DATA_MARGIN_GB:
        return Finding(
            "disk",
            Status.FAIL,
            f"only {free_data:.1f} GB free for the data folder {settings.data_dir}",
            f"free at least {DATA_MARGIN_GB:g} GB, or point I2V_DATA_DIR at a bigger disk",
        )
    summary = f"{free_data:.0f} GB free for the data folder"
    if not _wants_weights(settings, gpu) or weights is None or weights.present:
        return Finding("disk", Status.PASS, summary)
    if weights.preset is None or weights.repo_id is None:
        return Finding("disk", Status.PASS, summary)
    cache = probe.hf_cache_dir()
    free_cache = probe.free_disk_gb(cache)
    need = weights.preset.disk_gb + DATA_MARGIN_GB
    if free_cache < need:
        return Finding(
            "disk",
            Status.FAIL,
            f"the {weights.preset.name} weights need about {weights.preset.disk_gb:.0f} GB; "
            f"{cache} has {free_cache:.1f} GB free",
            "free some space, or set HF_HOME to a folder on a bigger disk before the first job",
        )
    return Finding(
        "disk", Status.PASS, summary + f"; {free_cache:.0f} GB free for the weights in {cache}"
    )


def check_weights(settings: Settings, weights: ModelWeights | None, gpu: bool) -> Finding:
    """The model's weights are on disk, or it is said plainly that the first job downloads them."""
    name = "weights"
    if not _wants_weights(settings, gpu):
        why = "I2V_ENGINE=kenburns" if settings.engine == "kenburns" else "no GPU, kenburns is used"
        return Finding(name, Status.PASS, f"not needed ({why})")
    if weights is None:
        return Finding(name, Status.WARN, f"cannot tell where {settings.model!r} is")
    if weights.present:
        return Finding(name, Status.PASS, f"{settings.model}: found in {weights.folder}")
    if weights.repo_id is None:
        return Finding(
            name,
            Status.FAIL,
            f"{settings.model} is not a diffusers model folder (no model_index.json)"
            if weights.folder is None
            else f"{weights.folder} lacks {', '.join(weights.missing)}",
            "point I2V_MODEL at a folder saved with pipeline.save_pretrained(), or at a preset name",
        )
    size = f" (about {weights.preset.disk_gb:.0f} GB)" if weights.preset else ""
    state = "incomplete" if weights.folder else "not downloaded yet"
    return Finding(
        name,
        Status.WARN,
        f"{weights.repo_id} is {state}: the first job downloads it{size} from Hugging Face, "
        "shown as the loading_model stage",
        "to download now, run one job: i2v generate examples/coffee.png -o first.mp4 "
        "(the download has its own time budget, I2V_MODEL_LOAD_TIMEOUT_SECONDS)",
    )


def _wants_weights(settings: Settings, gpu: bool) -> bool:
    return settings.engine == "diffusers" or (settings.engine == "auto" and gpu)
