"""`RewardConfig`: weights, switches, similarity, cost controls and penalty scales of the NIL reward.

Host-side, frozen, hashable: pass it to jitted functions as a static argument (or close over it). Changing any
field recompiles the reward. Defaults are the paper's where it states them (ζ = β = η = 1, cosine similarity,
8-frame clips, video term every step); penalty forms and scales are not published, so the defaults
below are ours (see docs/reward.md for the formulas and why).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Annotated, Literal

import tyro

Similarity = Literal["cosine", "l2"]
StartPadding = Literal["reference", "reset_frame"]
EncoderDtype = Literal["auto", "float32", "bfloat16"]

#: Backends where "auto" computes the encoder in bfloat16 (their matrix units are several times faster in it).
_BF16_BACKENDS = ("gpu", "cuda", "rocm", "tpu")


def resolve_encoder_dtype(name: str, backend: str | None = None) -> str:
    """"auto" -> "bfloat16" on a GPU/TPU backend, "float32" on CPU (where bfloat16 is no faster: 0.84-1.35x
    float32 for TimeSformer-base, benchmarks/results/timesformer_cpu-2core.json, and float32 matches the
    Stage-1 embeddings exactly); "float32"/"bfloat16" as given. `backend` defaults to `jax.default_backend()`."""
    if name != "auto":
        return name
    if backend is None:
        import jax

        backend = jax.default_backend()
    return "bfloat16" if backend in _BF16_BACKENDS else "float32"

#: Names of the regulariser terms, in the order they are reported (`reward/penalty/<name>`).
PENALTY_NAMES: tuple[str, ...] = ("torque", "action_rate", "angular_velocity", "foot_slip", "torso_tilt")


@dataclasses.dataclass(frozen=True)
class PenaltyScales:
    """Non-negative scale of each regulariser; a term's value is `-scale * base` (see docs/reward.md).

    Set a scale to 0 to switch that one term off. Defaults follow the magnitudes used by legged-robot RL
    code (legged_gym / Playground) so that the penalties stay small next to the video and IoU terms
    (each in about [0, 1]) for a humanoid moving normally.
    """

    torque: float = 1e-5  # -s * sum_j tau_j^2            (N·m)^2
    action_rate: float = 0.01  # -s * sum_j (a_j - a_prev_j)^2  (actions in [-1, 1])
    angular_velocity: float = 0.05  # -s * sum_k omega_k^2       (rad/s)^2, all 3 root axes
    foot_slip: float = 0.1  # -s * sum_f contact_f * |v_f,xy|^2  (m/s)^2
    torso_tilt: float = 1.0  # -s * tilt^2                 (rad)^2

    def __post_init__(self) -> None:
        for name in PENALTY_NAMES:
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"PenaltyScales.{name} must be a finite number >= 0, got {value!r}")


@dataclasses.dataclass(frozen=True)
class RewardConfig:
    """Configuration of `nil_reward`.

    Attributes:
      zeta, beta, eta: weights of the video, mask-IoU and regulariser terms (paper: 1, 1, 1).
      use_video, use_iou, use_penalties: ablation switches. A disabled term is left out of `reward/total`;
        IoU and penalties are cheap and are still reported, a disabled video term is not computed (reported 0).
      similarity: "cosine" (CVPR version, in [-1, 1]) or "l2" (arXiv version: the negative Euclidean distance
        between the two embeddings, <= 0).
      video_centring: compare embeddings after subtracting the mean of the reference's clip embeddings (all T
        rows of the bundle) from both sides: cos(E(agent) - mu, E_ref[t] - mu). Off = the paper's raw form. A
        pretrained encoder maps every robot clip near one direction (raw cosines 0.95-1.0 for I3D logits on
        renders); centring removes that shared part so the term spans a range comparable to IoU
        (docs/reward.md, experiments/results/landscape_i3d).
      alive_bonus: a constant added to every step's reward (`reward/alive`; 0 = the paper). The raw cosine of a
        pretrained encoder sits near 0.94 on every robot clip and so pays for each step survived; the centred term
        averages ~0 and removes that incentive (A1 ablation: 2 of 4 centred runs learned to fall, no raw run did;
        experiments/results/a1_ablation_i3d). `alive_bonus` puts the survival incentive back explicitly.
      clip_len: frames per clip (paper: 8). Must equal the bundle's clip_len.
      video_every_k: compute the video term on steps where `step % k == 0` only; other steps reuse the
        `last_video` value the caller carries (0 when the caller passes none). k = 1 is the paper.
      encoder_dtype: compute dtype of the encoder: "auto" (bfloat16 on GPU/TPU, float32 on CPU; see
        `resolve_encoder_dtype`), "float32" (matmuls at HIGHEST precision) or "bfloat16" (default precision);
        parameters stay float32. Training re-embeds the reference in the same dtype (no systematic offset).
      encoder_chunk: clips embedded at a time inside the compiled step (`VideoEncoder.embed(chunk_size=)`);
        0 = all N at once. Bounds the encoder's activation memory at large N (`niljax plan` shows it). "auto":
        the largest chunk the device's memory holds, chosen by the memory plan when the run is built
        (`niljax.train.plan`; `chunk_size()` refuses an unresolved "auto").
      start_padding: how the agent's clip is padded during the first clip_len-1 steps of an episode:
        "reference" (default) fills the missing older frames with the reference's own frames at those
        indices, so the precomputed reference embedding row t is exact for every start index;
        "reset_frame" repeats the agent's reset frame (the literal reading of the paper; exact only when the
        episode starts at reference index 0 and the reset render equals reference frame 0).
      penalty_scales: per-regulariser scales (`PenaltyScales`).
      diverged_reward: the reward of an env whose physics diverged this step (`nil_reward(..., valid=...)`
        False); its terms are reported as 0. 0 by default; a negative value penalises diverging.
    """

    zeta: float = 1.0
    beta: float = 1.0
    eta: float = 1.0
    use_video: bool = True
    use_iou: bool = True
    use_penalties: bool = True
    similarity: Similarity = "cosine"
    video_centring: bool = False
    alive_bonus: float = 0.0
    clip_len: Annotated[int, tyro.conf.arg(aliases=("--clip-len",))] = 8
    video_every_k: int = 1
    encoder_dtype: EncoderDtype = "auto"
    encoder_chunk: int | Literal["auto"] = 0
    start_padding: StartPadding = "reference"
    penalty_scales: PenaltyScales = dataclasses.field(default_factory=PenaltyScales)
    diverged_reward: float = 0.0

    def __post_init__(self) -> None:
        for name in ("zeta", "beta", "eta", "diverged_reward", "alive_bonus"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"RewardConfig.{name} must be a finite number, got {value!r}")
        for name in ("use_video", "use_iou", "use_penalties", "video_centring"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"RewardConfig.{name} must be a bool, got {getattr(self, name)!r}")
        if self.similarity not in ("cosine", "l2"):
            raise ValueError(f"RewardConfig.similarity must be 'cosine' or 'l2', got {self.similarity!r}")
        if not isinstance(self.clip_len, int) or self.clip_len < 1:
            raise ValueError(f"RewardConfig.clip_len must be an int >= 1, got {self.clip_len!r}")
        if not isinstance(self.video_every_k, int) or self.video_every_k < 1:
            raise ValueError(f"RewardConfig.video_every_k must be an int >= 1, got {self.video_every_k!r}")
        if self.encoder_dtype not in ("auto", "float32", "bfloat16"):
            raise ValueError(
                f"RewardConfig.encoder_dtype must be 'auto', 'float32' or 'bfloat16', got {self.encoder_dtype!r}"
            )
        if self.encoder_chunk != "auto" and (isinstance(self.encoder_chunk, bool) or not isinstance(
                self.encoder_chunk, int) or self.encoder_chunk < 0):
            raise ValueError(f"RewardConfig.encoder_chunk must be an int >= 0 (0 = no chunking) or 'auto' (the "
                             f"largest chunk that fits the device), got {self.encoder_chunk!r}")
        if self.start_padding not in ("reference", "reset_frame"):
            raise ValueError(
                f"RewardConfig.start_padding must be 'reference' or 'reset_frame', got {self.start_padding!r}"
            )
        if not isinstance(self.penalty_scales, PenaltyScales):
            raise ValueError(f"RewardConfig.penalty_scales must be a PenaltyScales, got {self.penalty_scales!r}")

    def chunk_size(self) -> int | None:
        """Clips per encoder call for `VideoEncoder.embed(chunk_size=)` (None: all at once). An "auto" chunk is
        resolved by the run's memory plan before anything is compiled; here it is an error."""
        if self.encoder_chunk == "auto":
            raise ValueError("RewardConfig.encoder_chunk='auto' is resolved by the memory plan when a run is built "
                             "(niljax.train.plan.plan_run(...).resolve(config)); pass an int to use the reward "
                             "directly")
        return self.encoder_chunk or None
