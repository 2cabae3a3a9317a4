"""Model presets: what each supported image-to-video model needs and makes.

Figures come from the diffusers documentation and the model cards:

- LTX-Video: docs/source/en/api/pipelines/ltx_video.md ("24 FPS videos at a 768x512
  resolution"; width and height divisible by 32, frames 8k+1, best below 720x1280 and
  257 frames); ``LTXImageToVideoPipeline.__call__`` defaults (50 steps, guidance 3.0);
  decode_timestep 0.03 / decode_noise_scale 0.025 from the 0.9.1 example.
  https://huggingface.co/Lightricks/LTX-Video
- Wan 2.2 TI2V-5B: https://huggingface.co/Wan-AI/Wan2.2-TI2V-5B-Diffusers (720P is
  1280x704, 24 fps, up to 121 frames, 50 steps, guidance 5.0); frames 4k+1 per the
  diffusers Wan docs; the VAE compresses 16x and the transformer patches 2x, so 32.
- CogVideoX-5B-I2V: https://huggingface.co/THUDM/CogVideoX-5b-I2V (720x480 only,
  49 frames at 8 fps, 50 steps, guidance 6.0).
- SVD-XT: https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt
  (1024x576, 25 frames, exported at 7 fps; 25 steps, guidance 1.0 to 3.0).

- LTX-Video 2B distilled (the default on cards up to 16 GB): the 0.9.8 2B distilled
  checkpoint ships only as one file, ``ltxv-2b-0.9.8-distilled.safetensors`` in
  https://huggingface.co/Lightricks/LTX-Video (transformer and VAE), so it is loaded
  with ``from_single_file``; the T5 text encoder, tokenizer and scheduler come from the
  diffusers-format https://huggingface.co/Lightricks/LTX-Video-0.9.5. Settings from the
  diffusers LTX-Video docs (0.9.7/0.9.8 distilled: ``LTXConditionPipeline``, guidance 1.0,
  decode_timestep 0.05, decode_noise_scale 0.025, image_cond_noise_scale 0.0) and, for a
  single pass without the latent upscaler, the 8 sigmas of Lightricks' ComfyUI-LTXVideo
  ``ltxvideo-i2v-distilled.json`` (1.0, 0.9937, 0.9875, 0.9812, 0.975, 0.9094, 0.725,
  0.4219) as timesteps x 1000. Tone mapping (``tone_map_compression_ratio`` 0.6) belongs
  to the latent upscaler pass, which i2v does not run. guidance_rescale only acts with
  classifier-free guidance, which guidance 1.0 turns off.

``footprint`` holds each model's weights and activation figures, from which
:mod:`i2v.engine.plans` estimates every memory plan's peak. ``resident_gb`` and
``vram_needed_gb`` are the older per-plan figures ``i2v doctor`` still reads.
They are planning estimates; ``bench/gpu_fit.py`` measures them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from i2v.engine.imageprep import output_size, snap

#: The reference job the VRAM figures describe: 1280x704 x 145 frames.
REFERENCE_VOXELS = 1280 * 704 * 145

#: The negative prompt LTX-Video's model cards use.
LTX_NEGATIVE = "worst quality, inconsistent motion, blurry, jittery, distorted"
#: Wan 2.2's official negative prompt (Wan-AI/Wan2.2-TI2V-5B-Diffusers example), in English.
WAN_NEGATIVE = (
    "bright tones, overexposed, static, blurred details, subtitles, style, works, paintings, "
    "images, static, overall gray, worst quality, low quality, JPEG compression residue, ugly, "
    "incomplete, extra fingers, poorly drawn hands, poorly drawn faces, deformed, disfigured, "
    "misshapen limbs, fused fingers, still picture, messy background, three legs, many people "
    "in the background, walking backwards"
)
#: CogVideoX's examples run without one; a short neutral one keeps guidance meaningful.
COGVIDEOX_NEGATIVE = "low quality, blurry, distorted, watermark"


@dataclass(frozen=True)
class Footprint:
    """Weights (GB, bf16/fp16) and activation figures the memory plans are estimated from."""

    text_encoder_gb: float
    denoiser_gb: float
    vae_gb: float
    image_encoder_gb: float = 0.0
    #: VAE decode activations in GB per million output voxels decoded at once.
    decode_gb_per_mvoxel: float = 0.6
    #: Frames the VAE decodes at once on its own (None: the whole clip unless framewise).
    vae_chunk_frames: int | None = None
    #: VAE modes this model supports, lightest-cost first.
    vae_modes: tuple[str, ...] = ("tiled",)


@dataclass(frozen=True)
class Preset:
    """One image-to-video model and how to drive it."""

    name: str
    #: ltx, wan, cogvideox or svd: which code path drives it.
    family: str
    #: The diffusers class used to load and run it.
    pipeline_class: str
    repo_id: str
    #: Width and height must be multiples of this (VAE compression x patch size).
    grid: int
    #: Frame counts are ``frame_step * k + 1``.
    frame_step: int
    min_frames: int
    max_frames: int
    fps: int
    steps: int
    guidance: float
    #: The largest short side the model renders natively; bigger requests are upscaled.
    max_short_side: int
    #: Set when the model only renders one size (landscape width, height).
    fixed_size: tuple[int, int] | None = None
    #: Set when the model only renders one clip length.
    fixed_frames: int | None = None
    #: Peak VRAM (GB) that does not depend on the video size, per memory plan.
    resident_gb: dict[str, float] = field(default_factory=dict)
    #: Extra VRAM (GB) for the reference job's activations; scales with pixels x frames.
    activation_gb: float = 0.0
    #: Download size, for the disk check.
    disk_gb: float = 0.0
    #: bfloat16 is what the model was trained in; fp16 overflows for some of them.
    bf16: bool = True
    #: Weights and activations for the memory plans.
    footprint: Footprint = field(default_factory=lambda: Footprint(9.5, 3.9, 0.8))
    #: The denoiser may be stored in fp8 (layerwise casting, bf16 compute).
    fp8: bool = True
    #: Sent with every prompt to steer away from artefacts ("" for none).
    negative_prompt: str = ""
    #: Explicit denoising timesteps (distilled models); overrides ``steps``.
    timesteps: tuple[float, ...] | None = None
    #: LTX 0.9.1+: the VAE is timestep-conditioned; decode at this timestep with this noise.
    decode_timestep: float = 0.03
    decode_noise_scale: float = 0.025
    #: LTXConditionPipeline: noise added to the conditioning image's latents.
    image_cond_noise_scale: float | None = None
    #: A checkpoint shipped only as one file (transformer + VAE) to load with from_single_file.
    single_file: str | None = None
    #: from_pretrained ``variant`` (SVD ships fp16 weights as variant "fp16": half the download).
    variant: str | None = None

    def frames_for(self, duration_seconds: float, fps: int) -> int:
        """Frame count for a duration, snapped to the model's rule and limits."""
        if self.fixed_frames is not None:
            return self.fixed_frames
        wanted = max(1.0, duration_seconds * fps - 1)
        frames = snap(wanted, self.frame_step) + 1
        return max(self.min_frames, min(self.max_frames, frames))

    def size_for(
        self, photo_size: tuple[int, int], short_side: int
    ) -> tuple[tuple[int, int], tuple[int, int] | None]:
        """Return the size to render and, when it is smaller than asked, the size asked for.

        The second value is set when the request exceeds what the model renders
        natively: the caller renders small and upscales to it.
        """
        if self.fixed_size is not None:
            rendered = self.fixed_size
            wanted = output_size(rendered, short_side, 2)
        else:
            native = min(short_side, self.max_short_side)
            rendered = output_size(photo_size, native, self.grid)
            wanted = output_size(photo_size, short_side, 2)
        # Snapping 720 down to 704 is not an upscale; exceeding the model's limit is.
        limit = min(self.fixed_size) if self.fixed_size is not None else self.max_short_side
        if short_side > limit:
            return rendered, wanted
        return rendered, None

    def vram_needed_gb(self, plan: str, width: int, height: int, frames: int) -> float:
        """Estimated peak VRAM in GB for a job under a memory plan."""
        scale = (width * height * frames) / REFERENCE_VOXELS
        return self.resident_gb[plan] + self.activation_gb * scale


PRESETS: dict[str, Preset] = {
    "ltx-video": Preset(
        name="ltx-video",
        family="ltx",
        pipeline_class="LTXConditionPipeline",
        repo_id="Lightricks/LTX-Video-0.9.5",
        grid=32,
        frame_step=8,
        min_frames=9,
        max_frames=257,
        fps=24,
        steps=8,
        guidance=1.0,
        max_short_side=720,
        resident_gb={
            "none": 14.5,
            "model_offload": 9.8,
            "group_offload": 1.5,
            "sequential_offload": 0.6,
        },
        activation_gb=3.5,
        disk_gb=17.5,
        negative_prompt=LTX_NEGATIVE,
        timesteps=(1000.0, 993.7, 987.5, 981.2, 975.0, 909.4, 725.0, 421.9),
        decode_timestep=0.05,
        decode_noise_scale=0.025,
        image_cond_noise_scale=0.0,
        single_file=(
            "https://huggingface.co/Lightricks/LTX-Video/blob/main/ltxv-2b-0.9.8-distilled.safetensors"
        ),
        footprint=Footprint(9.5, 3.9, 0.8, vae_modes=("tiled", "framewise")),
    ),
    "ltx-video-quality": Preset(
        name="ltx-video-quality",
        family="ltx",
        pipeline_class="LTXImageToVideoPipeline",
        repo_id="Lightricks/LTX-Video",
        grid=32,
        frame_step=8,
        min_frames=9,
        max_frames=257,
        fps=24,
        steps=50,
        guidance=3.0,
        max_short_side=720,
        # T5-XXL (9.5 GB) dominates "none"; offloads keep only the 2B transformer.
        resident_gb={
            "none": 14.5,
            "model_offload": 9.8,
            "group_offload": 1.5,
            "sequential_offload": 0.6,
        },
        activation_gb=3.5,
        disk_gb=28.0,
        negative_prompt=LTX_NEGATIVE,
        footprint=Footprint(9.5, 3.9, 0.4, vae_modes=("tiled", "framewise")),
    ),
    "wan2.2-ti2v-5b": Preset(
        name="wan2.2-ti2v-5b",
        family="wan",
        pipeline_class="WanImageToVideoPipeline",
        repo_id="Wan-AI/Wan2.2-TI2V-5B-Diffusers",
        grid=32,
        frame_step=4,
        min_frames=5,
        max_frames=121,
        fps=24,
        steps=50,
        guidance=5.0,
        # "720P" on the model card; on the 32 grid that is 704 rows.
        max_short_side=720,
        resident_gb={
            "none": 22.5,
            "model_offload": 11.5,
            "group_offload": 2.0,
            "sequential_offload": 0.8,
        },
        activation_gb=6.0,
        disk_gb=34.0,
        negative_prompt=WAN_NEGATIVE,
        # The Wan VAE decodes in float32 (diffusers Wan docs), one latent frame (4 frames) at a time.
        footprint=Footprint(11.4, 10.0, 1.4, decode_gb_per_mvoxel=1.5, vae_chunk_frames=4),
    ),
    "cogvideox-5b-i2v": Preset(
        name="cogvideox-5b-i2v",
        family="cogvideox",
        pipeline_class="CogVideoXImageToVideoPipeline",
        repo_id="THUDM/CogVideoX-5b-I2V",
        grid=16,
        frame_step=8,
        min_frames=49,
        max_frames=49,
        fps=8,
        steps=50,
        guidance=6.0,
        max_short_side=480,
        fixed_size=(720, 480),
        fixed_frames=49,
        resident_gb={
            "none": 21.0,
            "model_offload": 11.0,
            "group_offload": 2.0,
            "sequential_offload": 0.8,
        },
        # CogVideoX's VRAM is for its fixed 720x480x49 clip, a quarter of the reference.
        activation_gb=16.0,
        disk_gb=22.0,
        negative_prompt=COGVIDEOX_NEGATIVE,
        footprint=Footprint(9.5, 11.2, 0.4, vae_chunk_frames=8),
    ),
    "svd-xt": Preset(
        name="svd-xt",
        family="svd",
        pipeline_class="StableVideoDiffusionPipeline",
        repo_id="stabilityai/stable-video-diffusion-img2vid-xt",
        grid=64,
        frame_step=1,
        min_frames=25,
        max_frames=25,
        fps=7,
        steps=25,
        guidance=3.0,
        # A convolutional UNet: any multiple of 64 works, so portrait photos stay portrait.
        max_short_side=576,
        fixed_frames=25,
        resident_gb={
            "none": 5.0,
            "model_offload": 3.2,
            "group_offload": 1.2,
            "sequential_offload": 0.6,
        },
        activation_gb=18.0,
        disk_gb=5.0,
        # SVD ships fp16 weights (variant="fp16": half the download) and was trained in fp16.
        bf16=False,
        variant="fp16",
        fp8=False,
        # Its temporal decoder cannot tile; it decodes 8 frames at a time.
        footprint=Footprint(
            0.0,
            3.0,
            0.2,
            image_encoder_gb=1.3,
            decode_gb_per_mvoxel=0.5,
            vae_chunk_frames=8,
            vae_modes=("full",),
        ),
    ),
}

#: The distilled model by a name that never turns into the 50-step one on a big card.
PRESETS["ltx-video-distilled"] = dataclasses.replace(
    PRESETS["ltx-video"], name="ltx-video-distilled"
)

#: Aliases resolved on the card: ``ltx-video`` is the distilled model up to this much VRAM
#: and the 50-step quality preset above it.
DISTILLED_UP_TO_GB = 16.0

#: model_index.json ``_class_name`` -> family. Text-to-video classes that share an
#: image-to-video sibling's components load fine through that sibling.
FAMILY_BY_CLASS = {
    "LTXImageToVideoPipeline": "ltx",
    "LTXPipeline": "ltx",
    "LTXConditionPipeline": "ltx",
    "WanImageToVideoPipeline": "wan",
    "WanPipeline": "wan",
    "CogVideoXImageToVideoPipeline": "cogvideox",
    "StableVideoDiffusionPipeline": "svd",
}

#: The preset a folder or repo of each family starts from (LTXConditionPipeline folders
#: are driven as the distilled 0.9.5+ line).
PRESET_BY_FAMILY = {
    "ltx": PRESETS["ltx-video-quality"],
    "wan": PRESETS["wan2.2-ti2v-5b"],
    "cogvideox": PRESETS["cogvideox-5b-i2v"],
    "svd": PRESETS["svd-xt"],
}
PRESET_BY_CLASS = {"LTXConditionPipeline": PRESETS["ltx-video"]}
