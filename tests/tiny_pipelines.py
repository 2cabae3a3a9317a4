"""Shared test helpers for engines: a recording progress sink and tiny random-weight pipelines.

The pipelines follow the dummy components in diffusers' own fast tests
(tests/pipelines/{ltx,wan,cogvideo,stable_video_diffusion}), but every part is
built offline: the T5 tokenizer is trained in memory with the ``tokenizers``
library, and the text and image encoders come from tiny configs. Each pipeline
is saved with ``save_pretrained`` so the engine loads it the real way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from i2v.jobs import Stage

FAMILIES = ("ltx", "wan", "cogvideox", "svd")
#: Besides the families: the distilled LTX line (LTXConditionPipeline, timestep-conditioned VAE).
LTX_DISTILLED = "ltx-distilled"


@dataclass
class RecordingProgress:
    """A ProgressSink that records what the engine reported and can ask it to stop."""

    #: Ask to stop once this many steps were reported (None: never).
    cancel_after: int | None = None
    stages: list[Stage] = field(default_factory=list)
    steps: list[tuple[int, int]] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)

    def stage(self, stage: Stage) -> None:
        self.stages.append(stage)

    def step(self, done: int, total: int) -> bool:
        self.steps.append((done, total))
        return self.cancel_after is not None and len(self.steps) >= self.cancel_after

    def load_progress(self, fraction: float) -> None:
        self.loads.append(fraction)


def build_tiny_pipeline(family: str, folder: Path, variant: str | None = None) -> Path:
    """Build a tiny random-weight image-to-video pipeline of ``family``, saved in ``folder``.

    ``variant`` saves the weights as that variant (``fp16`` files, as SVD ships).
    """
    import torch

    builders = {
        "ltx": _ltx,
        LTX_DISTILLED: _ltx_distilled,
        "wan": _wan,
        "cogvideox": _cogvideox,
        "svd": _svd,
    }
    if family not in builders:
        raise ValueError(f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}")
    torch.manual_seed(0)
    pipeline = builders[family]()
    folder.mkdir(parents=True, exist_ok=True)
    pipeline.save_pretrained(str(folder), variant=variant)
    return folder


def tiny_t5() -> tuple[Any, Any]:
    """A 32-wide T5 encoder and a fast T5 tokenizer trained in memory on a few words."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import T5Config, T5EncoderModel, T5TokenizerFast

    words = "a photo of the sea sky cat dog coffee cup rocket moves slowly camera light dance"
    core = Tokenizer(models.Unigram())
    core.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=60, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>"
    )
    core.train_from_iterator([words] * 20, trainer=trainer)
    tokenizer = T5TokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", extra_ids=0
    )
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        decoder_start_token_id=0,
    )
    return T5EncoderModel(config), tokenizer


def _ltx() -> Any:
    from diffusers import FlowMatchEulerDiscreteScheduler, LTXImageToVideoPipeline

    text_encoder, tokenizer = tiny_t5()
    return LTXImageToVideoPipeline(
        transformer=tiny_ltx_transformer(),
        vae=tiny_ltx_vae(timestep_conditioning=False),
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
    )


def _ltx_distilled() -> Any:
    from diffusers import FlowMatchEulerDiscreteScheduler, LTXConditionPipeline

    # 0.9.5+ VAEs are timestep-conditioned: decoding adds noise, which must be the job's.
    text_encoder, tokenizer = tiny_t5()
    return LTXConditionPipeline(
        transformer=tiny_ltx_transformer(),
        vae=tiny_ltx_vae(timestep_conditioning=True),
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
    )


def tiny_ltx_transformer() -> Any:
    """A one-layer LTX-Video transformer."""
    from diffusers import LTXVideoTransformer3DModel

    return LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=1,
        caption_channels=32,
    )


def tiny_ltx_vae(timestep_conditioning: bool) -> Any:
    """A tiny LTX-Video VAE; ``timestep_conditioning`` as in 0.9.1+ checkpoints."""
    from diffusers import AutoencoderKLLTXVideo

    return AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=timestep_conditioning,
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )


def _wan() -> Any:
    from diffusers import (
        AutoencoderKLWan,
        UniPCMultistepScheduler,
        WanImageToVideoPipeline,
        WanTransformer3DModel,
    )

    # Wan 2.2 TI2V-5B layout: a 48-channel VAE with 16x spatial compression, one
    # transformer, and no CLIP image encoder (the photo enters as latent frame 0).
    vae = AutoencoderKLWan(
        base_dim=3,
        z_dim=48,
        in_channels=12,
        out_channels=12,
        is_residual=True,
        patch_size=2,
        latents_mean=[0.0] * 48,
        latents_std=[1.0] * 48,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        scale_factor_spatial=16,
        scale_factor_temporal=4,
        temperal_downsample=[False, True, True],
    )
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=48,
        out_channels=48,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
    text_encoder, tokenizer = tiny_t5()
    return WanImageToVideoPipeline(
        transformer=transformer,
        vae=vae,
        scheduler=UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
        ),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer_2=None,
        image_encoder=None,
        image_processor=None,
        boundary_ratio=None,
        expand_timesteps=True,
    )


def _cogvideox() -> Any:
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXImageToVideoPipeline,
        CogVideoXTransformer3DModel,
        DDIMScheduler,
    )

    # Learned positional embeddings fix the size: 16x16 pixels, 9 frames (3 latent frames).
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2,
        attention_head_dim=16,
        in_channels=8,
        out_channels=4,
        time_embed_dim=2,
        text_embed_dim=32,
        num_layers=1,
        sample_width=2,
        sample_height=2,
        sample_frames=9,
        patch_size=2,
        temporal_compression_ratio=4,
        max_text_seq_length=16,
        use_rotary_positional_embeddings=True,
        use_learned_positional_embeddings=True,
    )
    vae = AutoencoderKLCogVideoX(
        in_channels=3,
        out_channels=3,
        down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
    )
    text_encoder, tokenizer = tiny_t5()
    return CogVideoXImageToVideoPipeline(
        transformer=transformer,
        vae=vae,
        scheduler=DDIMScheduler(),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
    )


def _svd() -> Any:
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=8,
        out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=32,
        num_attention_heads=8,
        projection_class_embeddings_input_dim=96,
        addition_time_embed_dim=32,
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        interpolation_type="linear",
        num_train_timesteps=1000,
        prediction_type="v_prediction",
        sigma_max=700.0,
        sigma_min=0.002,
        steps_offset=1,
        timestep_spacing="leading",
        timestep_type="continuous",
        trained_betas=None,
        use_karras_sigmas=True,
    )
    vae = AutoencoderKLTemporalDecoder(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        latent_channels=4,
    )
    image_encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32,
            projection_dim=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            # SVD always resizes the photo to 224 for CLIP, and transformers 5 checks the size.
            image_size=224,
            intermediate_size=37,
            patch_size=14,
        )
    )
    return StableVideoDiffusionPipeline(
        vae=vae,
        image_encoder=image_encoder,
        unet=unet,
        scheduler=scheduler,
        feature_extractor=CLIPImageProcessor(crop_size=32, size=32),
    )
