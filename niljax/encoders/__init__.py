"""Video encoders: a Flax TimeSformer (HF-faithful), Hugging Face weight loading, JAX preprocessing.

- `Timesformer`, `TimesformerConfig`, `TimesformerOutput`, `embed_clips`, `init_params` (timesformer.py):
  `pixel_values f32[B, T, H, W, 3]` -> final-normalised CLS embedding `f32[B, D]` (+ last hidden state).
- `load_timesformer(source, *, config=None) -> (config, params)` (params.py): local folder/file, HF cache or
  hub id, or an in-memory state dict; strict key map with shape checks.
- `preprocess_clip(frames uint8[..., T, H, W, 3], masks bool[..., T, H, W] | None)` (preprocess.py).

Importing this package does not import torch, transformers or huggingface_hub.
"""

from niljax.encoders.params import (
    CheckpointError,
    WeightsNotFoundError,
    convert_state_dict,
    load_timesformer,
    read_safetensors,
    to_hf_state_dict,
)
from niljax.encoders.preprocess import K400_MEAN, K400_STD, clips_ending_at, preprocess_clip
from niljax.encoders.timesformer import (
    Timesformer,
    TimesformerConfig,
    TimesformerOutput,
    embed_clips,
    init_params,
    param_shapes,
)

__all__ = [
    "K400_MEAN",
    "K400_STD",
    "CheckpointError",
    "Timesformer",
    "TimesformerConfig",
    "TimesformerOutput",
    "WeightsNotFoundError",
    "clips_ending_at",
    "convert_state_dict",
    "embed_clips",
    "init_params",
    "load_timesformer",
    "param_shapes",
    "preprocess_clip",
    "read_safetensors",
    "to_hf_state_dict",
]
