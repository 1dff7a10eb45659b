"""Video encoders: a Flax TimeSformer (HF-faithful), Hugging Face weight loading, JAX preprocessing.

- `Timesformer`, `TimesformerConfig`, `TimesformerOutput`, `embed_clips`, `init_params` (timesformer.py):
  `pixel_values f32[B, T, H, W, 3]` -> final-normalised CLS embedding `f32[B, D]` (+ last hidden state).
- `load_timesformer(source, *, config=None) -> (config, params)` (params.py): local folder/file, HF cache or
  hub id, or an in-memory state dict; strict key map with shape checks.
- `preprocess_clip(frames uint8[..., T, H, W, 3], masks bool[..., T, H, W] | None)` (preprocess.py).

- `VideoEncoder`, `EncoderInfo`, `timesformer_encoder`, `toy_encoder` (video_encoder.py): the encoder the reward
  is given; `EncoderConfig` / `build_encoder` (factory.py) make one from a config. This package never imports
  `niljax.reward` (the reward imports it).
Importing this package does not import torch, transformers or huggingface_hub.
"""

from __future__ import annotations

from niljax._lazy import lazy_exports

# Lazy exports (niljax._lazy): importing a light name (a config) does not import jax or mujoco.
_EXPORTS = {
    'EncoderInfo': 'niljax.encoders.video_encoder',
    'VideoEncoder': 'niljax.encoders.video_encoder',
    'config_hash': 'niljax.encoders.video_encoder',
    'timesformer_encoder': 'niljax.encoders.video_encoder',
    'toy_encoder': 'niljax.encoders.video_encoder',
    'CheckpointError': 'niljax.encoders.params',
    'K400_MEAN': 'niljax.encoders.preprocess',
    'K400_STD': 'niljax.encoders.preprocess',
    'Timesformer': 'niljax.encoders.timesformer',
    'TimesformerConfig': 'niljax.encoders.timesformer',
    'TimesformerOutput': 'niljax.encoders.timesformer',
    'WeightsNotFoundError': 'niljax.encoders.params',
    'clips_ending_at': 'niljax.encoders.preprocess',
    'convert_state_dict': 'niljax.encoders.params',
    'embed_clips': 'niljax.encoders.timesformer',
    'init_params': 'niljax.encoders.timesformer',
    'load_timesformer': 'niljax.encoders.params',
    'param_shapes': 'niljax.encoders.timesformer',
    'preprocess_clip': 'niljax.encoders.preprocess',
    'read_safetensors': 'niljax.encoders.params',
    'to_hf_state_dict': 'niljax.encoders.params',
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "K400_MEAN",
    "K400_STD",
    "CheckpointError",
    "EncoderInfo",
    "Timesformer",
    "TimesformerConfig",
    "TimesformerOutput",
    "VideoEncoder",
    "WeightsNotFoundError",
    "clips_ending_at",
    "config_hash",
    "convert_state_dict",
    "embed_clips",
    "init_params",
    "load_timesformer",
    "param_shapes",
    "preprocess_clip",
    "read_safetensors",
    "timesformer_encoder",
    "to_hf_state_dict",
    "toy_encoder",
]
