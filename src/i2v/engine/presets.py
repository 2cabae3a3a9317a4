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

The VRAM figures are peak GB for 720p x 6 s (or the model's fixed clip) in bf16/fp16,
split into a resident part per memory plan and an activation part that grows with
pixels x frames. They are planning estimates; ``bench/gpu_fit.py`` measures them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from i2v.engine.imageprep import output_size, snap

#: The reference job the VRAM figures describe: 1280x704 x 145 frames.
REFERENCE_VOXELS = 1280 * 704 * 145


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
        disk_gb=10.0,
        # SVD ships fp16 weights (variant="fp16") and was trained in fp16.
        bf16=False,
    ),
}

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

PRESET_BY_FAMILY = {preset.family: preset for preset in PRESETS.values()}
