"""Memory plans: a pure choice from the card, the cap and host RAM, checked as a table."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from i2v.config import Settings
from i2v.engine.plans import (
    HEADROOM,
    LEGACY,
    PINNED_RAM_SHARE,
    PLACEMENTS,
    VAE_MODES,
    WEIGHTS,
    Budget,
    MemoryPlan,
    choose_plan,
    estimate,
    process_cap_gb,
)
from i2v.engine.presets import PRESETS

CARDS_GB = (8, 12, 16, 24, 80)
RAMS_GB = (16, 32, 64)
#: What the desktop holds on a card and in RAM on a typical laptop or workstation.
DESKTOP_VRAM_GB = 0.6
DESKTOP_RAM_GB = 3.0


def budget(card_gb: float, ram_gb: float, capability: tuple[int, int] = (8, 9)) -> Budget:
    free = card_gb - DESKTOP_VRAM_GB
    return Budget(
        free_vram_gb=free,
        cap_gb=process_cap_gb(card_gb, free, 0.95),
        free_ram_gb=ram_gb - DESKTOP_RAM_GB,
        capability=capability,
    )


def job(name: str) -> tuple[tuple[int, int], int]:
    preset = PRESETS[name]
    size, _ = preset.size_for((16, 9), 720)
    return size, preset.frames_for(6.0, preset.fps)


#: The distilled LTX default at 720p x 6 s: what each card and RAM size gets.
LTX_TABLE = {
    (8, 16): "fp8-grouplow-framewise",
    (8, 32): "bf16-group-framewise",
    (8, 64): "bf16-group-framewise",
    (12, 16): "bf16-dit-framewise",
    (12, 32): "bf16-dit-framewise",
    (12, 64): "bf16-dit-framewise",
    (16, 16): "bf16-dit-framewise",
    (16, 32): "bf16-dit-framewise",
    (16, 64): "bf16-dit-framewise",
    (24, 16): "bf16-all-framewise",
    (24, 32): "bf16-all-framewise",
    (24, 64): "bf16-all-framewise",
    (80, 16): "bf16-all-tiled",
    (80, 32): "bf16-all-tiled",
    (80, 64): "bf16-all-tiled",
}


@pytest.mark.parametrize(("card_gb", "ram_gb"), sorted(LTX_TABLE))
def test_distilled_ltx_at_720p_for_6_s_gets_the_fastest_plan_that_fits(
    card_gb: int, ram_gb: int
) -> None:
    size, frames = job("ltx-video")
    choice = choose_plan(PRESETS["ltx-video"], size, frames, budget(card_gb, ram_gb))
    assert choice.plan.name == LTX_TABLE[(card_gb, ram_gb)]
    assert choice.fits_vram
    assert choice.estimate.peak_vram_gb < budget(card_gb, ram_gb).cap_gb


@pytest.mark.parametrize("name", sorted(PRESETS))
@pytest.mark.parametrize("card_gb", CARDS_GB)
@pytest.mark.parametrize("ram_gb", RAMS_GB)
def test_every_chosen_plan_stays_under_the_cap_and_never_over_pins_ram(
    name: str, card_gb: int, ram_gb: int
) -> None:
    size, frames = job(name)
    machine = budget(card_gb, ram_gb)
    choice = choose_plan(PRESETS[name], size, frames, machine)
    assert choice.fits_vram, f"{name} on {card_gb} GB: {choice}"
    assert choice.estimate.peak_vram_gb <= machine.usable_gb < machine.cap_gb
    assert choice.estimate.pinned_ram_gb <= machine.free_ram_gb * PINNED_RAM_SHARE


def test_a_12_gb_card_decodes_720p_for_6_s_framewise_within_the_plans_peak() -> None:
    size, frames = job("ltx-video")
    choice = choose_plan(PRESETS["ltx-video"], size, frames, budget(12, 32))
    assert choice.plan.vae == "framewise"
    assert choice.estimate.decode_vram_gb <= choice.estimate.peak_vram_gb
    tiled_only = estimate(PRESETS["ltx-video"], MemoryPlan("bf16", "dit", "tiled"), size, frames)
    assert tiled_only.decode_vram_gb > budget(12, 32).usable_gb, "framewise must be what fits"


def test_the_cap_follows_free_vram_not_the_cards_total() -> None:
    # 12 GB card with 3 GB held by the desktop and a browser: 95 % of the total would
    # be 11.4 GB, more than is free, and the driver would spill into system RAM.
    assert process_cap_gb(12.0, 9.0, 0.95) == pytest.approx(8.5)
    assert process_cap_gb(12.0, 11.9, 0.95) == pytest.approx(11.4)
    assert process_cap_gb(12.0, 9.0, 0.0) == pytest.approx(8.5)
    size, frames = job("ltx-video")
    roomy = Budget(11.4, process_cap_gb(12, 11.4, 0.95), 29.0)
    crowded = Budget(7.0, process_cap_gb(12, 7.0, 0.95), 29.0)
    assert choose_plan(PRESETS["ltx-video"], size, frames, roomy).plan.placement == "dit"
    lighter = choose_plan(PRESETS["ltx-video"], size, frames, crowded)
    assert lighter.plan.name != "bf16-dit-framewise"
    assert lighter.estimate.peak_vram_gb <= crowded.usable_gb


def test_pinned_copies_count_so_short_ram_streams_without_pinning_everything() -> None:
    size, frames = job("ltx-video")
    plenty = choose_plan(PRESETS["ltx-video"], size, frames, budget(8, 64))
    short = choose_plan(PRESETS["ltx-video"], size, frames, budget(8, 16))
    assert plenty.plan.placement == "group" and plenty.estimate.pinned_ram_gb > 13
    assert short.plan.placement in ("grouplow", "sequential")
    assert short.estimate.pinned_ram_gb <= budget(8, 16).free_ram_gb * PINNED_RAM_SHARE
    assert not short.fits_ram, "the engine warns that 16 GB of RAM will swap"


def test_fp8_storage_needs_a_card_with_bf16_compute() -> None:
    size, frames = job("wan2.2-ti2v-5b")
    ada = choose_plan(PRESETS["wan2.2-ti2v-5b"], size, frames, budget(16, 32, (8, 9)))
    turing = choose_plan(PRESETS["wan2.2-ti2v-5b"], size, frames, budget(16, 32, (7, 5)))
    assert ada.plan.name == "fp8-dit-tiled"
    assert turing.plan.weights == "bf16"


def test_svd_decodes_whole_frames_because_its_vae_cannot_tile() -> None:
    size, frames = job("svd-xt")
    assert choose_plan(PRESETS["svd-xt"], size, frames, budget(12, 32)).plan.vae == "full"


def test_overrides_pick_the_named_placement_and_unknown_names_are_refused() -> None:
    size, frames = job("ltx-video")
    legacy = choose_plan(PRESETS["ltx-video"], size, frames, budget(80, 64), "group_offload")
    assert legacy.plan.name == "bf16-group-tiled"
    full = choose_plan(PRESETS["ltx-video"], size, frames, budget(80, 64), "fp8-dit-framewise")
    assert full.plan == MemoryPlan("fp8", "dit", "framewise")
    with pytest.raises(ValueError, match="unknown memory plan"):
        choose_plan(PRESETS["ltx-video"], size, frames, budget(80, 64), "magic")


def test_plan_names_are_short_stable_and_round_trip() -> None:
    plan = MemoryPlan("fp8", "dit", "framewise")
    assert plan.name == "fp8-dit-framewise"
    assert MemoryPlan.parse(plan.name) == plan
    assert 0 < HEADROOM < 1


def test_every_plan_name_the_engine_knows_is_a_valid_setting_and_no_other() -> None:
    names = [
        f"{weights}-{placement}-{vae}"
        for weights in WEIGHTS
        for placement in PLACEMENTS
        for vae in VAE_MODES
    ]
    for name in ["auto", *LEGACY, *names]:
        assert Settings(memory_plan=name).memory_plan == name
    for wrong in ("fp16-all-tiled", "bf16-all", "bf16-everything-tiled", "group-offload"):
        with pytest.raises(ValidationError):
            Settings(memory_plan=wrong)
