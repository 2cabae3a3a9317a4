"""Does LTX-Video (and Wan 2.2 5B) fit 12 GB? Peak VRAM and seconds per step under each memory plan.

Builds the full-size models from their configs with random weights (no download),
caps this process at ``--cap-gb`` of VRAM, and runs 720p x 6 s and 1080p for a few
steps under every memory plan, then decodes. Prints a table and writes
bench/results/gpu_fit.json. Without a GPU, ``--tiny`` runs the same code end to
end on the tiny test pipelines on the CPU. Run it as ``python -m bench.gpu_fit``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))

from i2v.engine import families, memory  # noqa: E402
from i2v.engine.presets import PRESET_BY_FAMILY  # noqa: E402

#: (label, width, height, frames) per family; 6 s at 24 fps is 145 (LTX) / 121 (Wan, its max).
FULL_JOBS = {
    "ltx": [("720p", 1280, 704, 145), ("1080p", 1920, 1088, 145)],
    "wan": [("720p", 1280, 704, 121), ("1080p", 1920, 1088, 121)],
}
TINY_JOBS = {"ltx": [("tiny", 32, 32, 9)], "wan": [("tiny", 32, 32, 9)]}


def t5_xxl(vocab: int) -> tuple[Any, Any]:
    """A T5-XXL-sized encoder (LTX: T5 v1.1 XXL; Wan: umT5-XXL) with random weights."""
    from transformers import T5Config, T5EncoderModel

    from tiny_pipelines import tiny_t5

    _, tokenizer = tiny_t5()  # Token ids stay tiny; only the model's size matters here.
    config = T5Config(
        vocab_size=vocab,
        d_model=4096,
        d_ff=10240,
        d_kv=64,
        num_layers=24,
        num_heads=64,
        feed_forward_proj="gated-gelu",
    )
    return T5EncoderModel(config), tokenizer


def full_pipeline(family: str) -> Any:
    """The full-size pipeline from its published configs, random weights, bf16 on the CPU."""
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        LTXImageToVideoPipeline,
        LTXVideoTransformer3DModel,
        UniPCMultistepScheduler,
        WanImageToVideoPipeline,
        WanTransformer3DModel,
    )

    torch.set_default_dtype(torch.bfloat16)
    try:
        if family == "ltx":
            # The class defaults are LTX-Video 2B (0.9.x): 28 layers, 32 heads of 64.
            encoder, tokenizer = t5_xxl(32128)
            return LTXImageToVideoPipeline(
                transformer=LTXVideoTransformer3DModel(),
                vae=AutoencoderKLLTXVideo(),
                scheduler=FlowMatchEulerDiscreteScheduler(),
                text_encoder=encoder,
                tokenizer=tokenizer,
            )
        encoder, tokenizer = t5_xxl(256384)
        # Wan2.2-TI2V-5B transformer/config.json and vae/config.json.
        transformer = WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=24,
            attention_head_dim=128,
            in_channels=48,
            out_channels=48,
            text_dim=4096,
            freq_dim=256,
            ffn_dim=14336,
            num_layers=30,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            eps=1e-6,
            rope_max_seq_len=1024,
        )
        vae = AutoencoderKLWan(
            base_dim=160,
            decoder_base_dim=256,
            z_dim=48,
            in_channels=12,
            out_channels=12,
            is_residual=True,
            patch_size=2,
            dim_mult=[1, 2, 4, 4],
            num_res_blocks=2,
            scale_factor_spatial=16,
            scale_factor_temporal=4,
            temperal_downsample=[False, True, True],
            latents_mean=[0.0] * 48,
            latents_std=[1.0] * 48,
        )
        return WanImageToVideoPipeline(
            transformer=transformer,
            vae=vae,
            scheduler=UniPCMultistepScheduler(
                prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=5.0
            ),
            text_encoder=encoder,
            tokenizer=tokenizer,
            expand_timesteps=True,
        )
    finally:
        torch.set_default_dtype(torch.float32)


def tiny_pipeline(family: str) -> Any:
    """The tiny test pipeline, built in memory."""
    import tiny_pipelines

    builder = {"ltx": tiny_pipelines._ltx, "wan": tiny_pipelines._wan}[family]
    return builder()


def run_once(pipe: Any, family: str, job: tuple[str, int, int, int], steps: int) -> dict[str, Any]:
    """One generation plus decode; returns peak VRAM and seconds per step."""
    import torch
    from PIL import Image

    label, width, height, frames = job
    preset = families.refine_preset(PRESET_BY_FAMILY[family], pipe)
    stamps: list[float] = []

    def on_step(_pipe: Any, index: int, _t: Any, _kw: dict[str, Any]) -> dict[str, Any]:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())
        return {}

    arguments = families.call_arguments(preset, pipe, (width, height), frames, 24, steps)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    latents = pipe(
        image=Image.new("RGB", (width, height), (120, 110, 100)),
        prompt="a calm sea under a clear sky",
        generator=torch.Generator("cpu").manual_seed(0),
        callback_on_step_end=on_step,
        **arguments,
    )[0]
    video = families.decode(preset, pipe, latents, (width, height), frames)
    pixels = families.to_uint8_frames(pipe, video)
    total = time.perf_counter() - start
    per_step = [b - a for a, b in zip([start, *stamps[:-1]], stamps, strict=True)]
    peak = torch.cuda.max_memory_allocated() / 1e9 if torch.cuda.is_available() else 0.0
    return {
        "size": label,
        "width": width,
        "height": height,
        "frames": int(pixels.shape[0]),
        "peak_gb": round(peak, 2),
        # The first step includes the text encoder and warm-up; report the steady ones.
        "s_per_step": round(min(per_step[1:] or per_step), 3),
        "total_s": round(total, 2),
        "status": "ok",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="tiny configs on the CPU")
    parser.add_argument("--families", nargs="+", default=["ltx", "wan"], choices=["ltx", "wan"])
    parser.add_argument("--plans", nargs="+", default=list(memory.PLANS), choices=memory.PLANS)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--cap-gb", type=float, default=12.0)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "gpu_fit.json")
    args = parser.parse_args()

    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.tiny:
        sys.exit("No CUDA GPU here; run with --tiny to check the script on the CPU.")
    if device == "cuda":
        total_gb = torch.cuda.get_device_properties(0).total_memory / 1e9
        memory.cap_process_memory(min(1.0, args.cap_gb / total_gb), device)
    out_of_memory = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
    rows = []
    for family in args.families:
        pipe = tiny_pipeline(family) if args.tiny else full_pipeline(family)
        pipe.set_progress_bar_config(disable=True)
        for plan in args.plans:
            memory.apply_plan(pipe, plan, device)
            for job in (TINY_JOBS if args.tiny else FULL_JOBS)[family]:
                try:
                    row = run_once(pipe, family, job, args.steps)
                except out_of_memory:
                    row = {"size": job[0], "width": job[1], "height": job[2], "status": "OOM"}
                    torch.cuda.empty_cache()
                rows.append({"family": family, "plan": plan, **row})
                print(json.dumps(rows[-1]), flush=True)
            # Undo the plan's hooks so the next plan starts from weights on the CPU.
            pipe.remove_all_hooks()
            pipe.to("cpu")
            if device == "cuda":
                torch.cuda.empty_cache()
        del pipe

    print(f"\n{'model':<6}{'plan':<20}{'size':<8}{'frames':>7}{'peak GB':>9}{'s/step':>8}  status")
    for row in rows:
        print(
            f"{row['family']:<6}{row['plan']:<20}{row['size']:<8}{row.get('frames', '-'):>7}"
            f"{row.get('peak_gb', '-'):>9}{row.get('s_per_step', '-'):>8}  {row['status']}"
        )
    result = {"device": device, "cap_gb": args.cap_gb, "tiny": args.tiny, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
