"""Prompt embeddings, cached per prompt for one loaded model.

The text encoder (T5-XXL: 9.5 GB, or UMT5 for Wan) is the biggest model in a video
pipeline and under the ``dit`` memory plan it streams in layer by layer, so a pass
costs seconds. Prompts repeat (the empty prompt most of all, and the fixed negative
prompt every time), so each distinct text is encoded once per model load and kept in
a small least-recently-used cache. The pipeline then gets ``prompt_embeds`` and never
runs the text encoder itself.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from typing import Any

from i2v.engine.presets import Preset

#: Distinct prompts kept per model load; a few MB each.
CACHE_SIZE = 32


class PromptCache:
    """Encodes prompts with the pipeline's text encoder, once per distinct text."""

    def __init__(self, preset: Preset, pipe: Any, size: int = CACHE_SIZE) -> None:
        self.preset = preset
        self.pipe = pipe
        self.size = size
        self._cache: OrderedDict[str, tuple[Any, Any]] = OrderedDict()

    @property
    def has_text(self) -> bool:
        """False for image-only models (SVD)."""
        return self.preset.family != "svd"

    @property
    def uses_negative(self) -> bool:
        """True when guidance runs a negative branch (guidance-distilled models do not)."""
        return self.has_text and self.preset.guidance > 1.0

    def warm(self) -> None:
        """Encode the empty prompt and the fixed negative prompt now, at load time."""
        if not self.has_text:
            return
        self.embed("")
        if self.uses_negative:
            self.embed(self.preset.negative_prompt)

    def arguments(self, prompt: str) -> dict[str, Any]:
        """Pipeline keyword arguments carrying the embeddings of ``prompt`` (and the negative)."""
        if not self.has_text:
            return {}
        embeds, mask = self.embed(prompt)
        arguments: dict[str, Any] = {"prompt_embeds": embeds}
        if mask is not None:
            arguments["prompt_attention_mask"] = mask
        if self.uses_negative:
            negative, negative_mask = self.embed(self.preset.negative_prompt)
            arguments["negative_prompt_embeds"] = negative
            if negative_mask is not None:
                arguments["negative_prompt_attention_mask"] = negative_mask
        return arguments

    def embed(self, text: str) -> tuple[Any, Any]:
        """The embeddings (and attention mask, for LTX) of ``text``; encoded on a cache miss."""
        if text in self._cache:
            self._cache.move_to_end(text)
            return self._cache[text]
        encoded = self._encode(text)
        self._cache[text] = encoded
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return encoded

    def _encode(self, text: str) -> tuple[Any, Any]:
        import torch

        pipe = self.pipe
        with torch.no_grad():
            out = pipe.encode_prompt(
                prompt=text,
                do_classifier_free_guidance=False,
                num_videos_per_prompt=1,
                max_sequence_length=self.max_sequence_length(),
                device=pipe._execution_device,
            )
        # LTX returns (embeds, mask, negative embeds, negative mask); Wan and CogVideoX
        # return (embeds, negative embeds).
        mask = out[1] if self.preset.family == "ltx" else None
        return out[0], mask

    def max_sequence_length(self) -> int:
        """The token length the pipeline itself would encode prompts to."""
        if self.preset.family == "cogvideox":
            return int(self.pipe.transformer.config.max_text_seq_length)
        default = inspect.signature(self.pipe.__call__).parameters["max_sequence_length"].default
        return int(default)
