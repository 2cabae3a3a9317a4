"""What differs between model families: call arguments, the latent grid, and the VAE decode.

The engine runs every pipeline with ``output_type="latent"`` and decodes here, as
its own stage, so a cancel during the steps never pays for a decode. Each decode
repeats what the pipeline's own ``__call__`` does after its denoising loop
(diffusers 0.3x-0.4x: pipeline_ltx_image2video.py, pipeline_wan_i2v.py,
pipeline_cogvideox_image2video.py, pipeline_stable_video_diffusion.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import numpy.typing as npt

from i2v.engine.presets import Preset

#: The decode-time noise LTX-Video 0.9.1+ expects when its VAE is timestep-conditioned.
LTX_DECODE_TIMESTEP = 0.03
LTX_DECODE_NOISE_SCALE = 0.025
#: SVD conditioning from its model card: default motion, a little noise on the image.
SVD_MOTION_BUCKET_ID = 127
SVD_NOISE_AUG_STRENGTH = 0.02
#: SVD decodes this many frames at a time; its VAE has no tiling.
SVD_DECODE_CHUNK = 8


def refine_preset(preset: Preset, pipe: Any) -> Preset:
    """Read the true grid (and fixed sizes) from the loaded pipeline's configs."""
    family = preset.family
    if family == "ltx":
        grid = pipe.vae_spatial_compression_ratio * pipe.transformer_spatial_patch_size
        return dataclasses.replace(preset, grid=int(grid))
    if family == "wan":
        patch = pipe.transformer.config.patch_size[1]
        return dataclasses.replace(preset, grid=int(pipe.vae_scale_factor_spatial * patch))
    if family == "cogvideox":
        config = pipe.transformer.config
        scale = int(pipe.vae_scale_factor_spatial)
        grid = scale * int(config.patch_size)
        # Learned positional embeddings only exist for one size and clip length.
        if config.use_learned_positional_embeddings:
            size = (config.sample_width * scale, config.sample_height * scale)
            frames = int(config.sample_frames)
            return dataclasses.replace(
                preset, grid=grid, fixed_size=size, fixed_frames=frames, max_short_side=min(size)
            )
        return dataclasses.replace(preset, grid=grid)
    # SVD: the UNet halves the latent once per down block after the first.
    downs = 2 ** (len(pipe.unet.config.block_out_channels) - 1)
    frames = int(pipe.unet.config.num_frames)
    return dataclasses.replace(
        preset, grid=int(pipe.vae_scale_factor * downs), fixed_frames=frames, min_frames=frames
    )


def call_arguments(
    preset: Preset, pipe: Any, size: tuple[int, int], frames: int, fps: int, steps: int
) -> dict[str, Any]:
    """Keyword arguments for one pipeline call, besides image, generator and callback."""
    width, height = size
    common: dict[str, Any] = {
        "height": height,
        "width": width,
        "num_frames": frames,
        "num_inference_steps": steps,
        "output_type": "latent",
        "return_dict": False,
    }
    if preset.family == "svd":
        return {
            **common,
            "min_guidance_scale": 1.0,
            "max_guidance_scale": preset.guidance,
            # SVD is micro-conditioned on the frame rate (the pipeline subtracts one itself).
            "fps": fps,
            "motion_bucket_id": SVD_MOTION_BUCKET_ID,
            "noise_aug_strength": SVD_NOISE_AUG_STRENGTH,
            "decode_chunk_size": SVD_DECODE_CHUNK,
        }
    common["guidance_scale"] = preset.guidance
    if preset.family == "cogvideox":
        common["max_sequence_length"] = int(pipe.transformer.config.max_text_seq_length)
    return common


def decode(preset: Preset, pipe: Any, latents: Any, size: tuple[int, int], frames: int) -> Any:
    """Decode latents to a float video tensor (batch, channels, frames, height, width)."""
    import torch

    with torch.no_grad():
        family = preset.family
        if family == "ltx":
            return _decode_ltx(pipe, latents, size, frames)
        if family == "wan":
            vae = pipe.vae
            latents = latents.to(dtype=vae.dtype)
            z_dim = vae.config.z_dim
            mean = torch.tensor(vae.config.latents_mean).view(1, z_dim, 1, 1, 1)
            inv_std = 1.0 / torch.tensor(vae.config.latents_std).view(1, z_dim, 1, 1, 1)
            mean, inv_std = (
                mean.to(latents.device, latents.dtype),
                inv_std.to(latents.device, latents.dtype),
            )
            return vae.decode(latents / inv_std + mean, return_dict=False)[0]
        if family == "cogvideox":
            patch_t = pipe.transformer.config.patch_size_t
            latent_frames = (frames - 1) // pipe.vae_scale_factor_temporal + 1
            # CogVideoX 1.5 pads the latent clip to its temporal patch; drop the padding.
            if patch_t is not None and latent_frames % patch_t:
                latents = latents[:, patch_t - latent_frames % patch_t :]
            return pipe.decode_latents(latents)
        # SVD returns (batch, channels, frames, height, width) already.
        return pipe.decode_latents(latents, frames, SVD_DECODE_CHUNK)


def _decode_ltx(pipe: Any, latents: Any, size: tuple[int, int], frames: int) -> Any:
    import torch

    width, height = size
    latents = pipe._unpack_latents(
        latents,
        (frames - 1) // pipe.vae_temporal_compression_ratio + 1,
        height // pipe.vae_spatial_compression_ratio,
        width // pipe.vae_spatial_compression_ratio,
        pipe.transformer_spatial_patch_size,
        pipe.transformer_temporal_patch_size,
    )
    vae = pipe.vae
    latents = pipe._denormalize_latents(
        latents, vae.latents_mean, vae.latents_std, vae.config.scaling_factor
    ).to(vae.dtype)
    timestep = None
    if vae.config.timestep_conditioning:
        noise = torch.randn(latents.shape, device=latents.device, dtype=latents.dtype)
        latents = (1 - LTX_DECODE_NOISE_SCALE) * latents + LTX_DECODE_NOISE_SCALE * noise
        timestep = torch.tensor([LTX_DECODE_TIMESTEP], device=latents.device, dtype=latents.dtype)
    return vae.decode(latents, timestep, return_dict=False)[0]


def to_uint8_frames(pipe: Any, video: Any) -> npt.NDArray[np.uint8]:
    """Turn a decoded (1, C, F, H, W) tensor in [-1, 1] into uint8 frames (F, H, W, 3)."""
    array = pipe.video_processor.postprocess_video(video.float(), output_type="np")[0]
    return np.clip(np.asarray(array) * 255.0 + 0.5, 0, 255).astype(np.uint8)
