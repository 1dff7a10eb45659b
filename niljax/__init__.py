"""niljax: NIL (No-data Imitation Learning, arXiv 2503.10626) in JAX.

The stages, in the order data flows (no stage imports a later one):

- `niljax.robots`    robot specs, asset resolution, MjSpec scene builder (floor, lights, follow camera).
- `niljax.sim`       batched MJX environment (`reset`/`step` -> `State`), walking metrics, kinematic replay.
- `niljax.render`    batched renderer: rgb [N,H,W,3] uint8 + robot mask [N,H,W] bool from the follow camera.
- `niljax.encoders`  Flax TimeSformer with Hugging Face weight loading and JAX preprocessing.
- `niljax.reward`    the NIL reward over a versioned reference bundle (public, jittable API).
- `niljax.reference` Stage 1: first frame, video generation/import/replay, selection, resampling, masks.
- `niljax.learner`   BRO with a device-resident replay buffer.
- `niljax.train`     Stage 2: the compiled training iteration, evaluation, checkpoints, run folders.
- `niljax.cli`       the `niljax` command.

Submodules are imported lazily: `import niljax` is cheap and never imports torch.
"""

from niljax import _runtime

_runtime.configure()

__version__ = "0.1.0"
