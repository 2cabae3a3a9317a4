"""What differs between model families: call arguments, the latent grid, and the VAE decode.

The engine runs every pipeline with ``output_type="latent"`` and decodes here, as
its own stage, so a cancel during the steps never pays for a decode. Each decode
repeats what the pipeline's own ``__call__`` does after its denoising loop
(diffusers 0.36-0.42: pipeline_ltx_image2video.py, pipeline_ltx_condition.py,
pipeline_wan_i2v.py, pipeline_cogvideox_image2video.py, pipeline_stable_video_diffusion.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import numpy.typing as npt

from i2v.engine.presets import Preset

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
    if preset.family == "ltx":
        # The transformer's RoPE time axis is scaled by 1 / frame_rate (the default is 25).
        common["frame_rate"] = fps
        if preset.timesteps is not None and steps == len(preset.timesteps):
            # Distilled models are trained on these exact timesteps.
            del common["num_inference_steps"]
            common["timesteps"] = list(preset.timesteps)
        if preset.image_cond_noise_scale is not None:
            common["image_cond_noise_scale"] = preset.image_cond_noise_scale
    return common


def decode(
    preset: Preset,
    pipe: Any,
    latents: Any,
    size: tuple[int, int],
    frames: int,
    generator: Any = None,
) -> Any:
    """Decode latents to a float video tensor (batch, channels, frames, height, width).

    ``generator`` is the job's seeded generator: LTX's timestep-conditioned VAE adds
    noise before decoding, and it must be the job's noise for a seed to mean a video.
    """
    import torch

    with torch.no_grad():
        family = preset.family
        if family == "ltx":
            return _decode_ltx(preset, pipe, latents, size, frames, generator)
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


def _decode_ltx(
    preset: Preset, pipe: Any, latents: Any, size: tuple[int, int], frames: int, generator: Any
) -> Any:
    import torch
    from diffusers.utils.torch_utils import randn_tensor

    width, height = size
    if latents.ndim == 3:
        # LTXImageToVideoPipeline returns packed tokens; LTXConditionPipeline unpacks itself.
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
        noise = randn_tensor(
            latents.shape, generator=generator, device=latents.device, dtype=latents.dtype
        )
        scale = preset.decode_noise_scale
        latents = (1 - scale) * latents + scale * noise
        timestep = torch.tensor(
            [preset.decode_timestep], device=latents.device, dtype=latents.dtype
        )
    return vae.decode(latents, timestep, return_dict=False)[0]


#: Frames moved to the CPU and converted at a time: a 720p chunk is about 170 MB in float32.
CONVERT_CHUNK = 16


def to_uint8_frames(video: Any, chunk: int = CONVERT_CHUNK) -> npt.NDArray[np.uint8]:
    """Turn a decoded (1, C, F, H, W) tensor in [-1, 1] into uint8 frames (F, H, W, 3).

    Frames go to the CPU a chunk at a time, in the VAE's dtype, and only there become
    float32: converting the whole 720p clip on the GPU would take about 4 GB more.
    """
    import torch

    count = int(video.shape[2])
    out = np.empty((count, int(video.shape[3]), int(video.shape[4]), 3), np.uint8)
    for start in range(0, count, chunk):
        part = video[0, :, start : start + chunk].to("cpu").float()
        part = ((part + 1.0) * 127.5).add_(0.5).clamp_(0, 255).to(torch.uint8)
        out[start : start + chunk] = part.permute(1, 2, 3, 0).numpy()
    return out
