"""Generator comparison: the same first frame + prompt through several video models, best-of-N on each.

`niljax reference --backend diffusers --model A --model B ...` runs this instead of building a bundle: every
model generates `num_candidates` videos from our rendered first frame and the prompt; each model's candidates
are aligned to the first frame's size and ranked by the usual selection (`select.select_best`: flow variance
+ first-frame MSE); the chosen video is segmented (fallback or SAM2, prompted with our first-frame mask). It
writes into `<out>/comparison/`:

    contact_sheet.png   one row per model: our first frame, then frames of its chosen video evenly spaced in
                        time, mask overlaid, with the row's numbers in its label
    table.md            the table below, one row per model (also printed)
    comparison.json     the rows + every model's full selection table + settings

Columns: flow variance and first-frame MSE of the chosen video (lower is better; the selection criteria),
start MSE (its frame 0 vs ours; the robot-mismatch check), mask IoU stability = mean IoU of consecutive masks
(1 = the segmented robot moves smoothly, low = masks flicker or jump), first-mask IoU = IoU of the segmented
frame 0 with our rendered first-frame mask, and the generation time. Pick a model, then build the bundle with
`--model THAT_ONE`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from niljax.reference.config import ReferenceConfig, build_segmenter, diffusers_generator
from niljax.reference.errors import ReferencePreparationError
from niljax.reference.staging import staged


@dataclass(frozen=True)
class ModelRow:
    """One model's line of the comparison table."""

    model: str
    kind: str
    num_candidates: int
    chosen: int
    num_frames: int
    fps: float
    flow_variance: float
    first_frame_mse: float
    start_mse: float
    mask_iou_stability: float
    first_mask_iou: float
    generate_s: float


def mask_stability(masks: np.ndarray) -> float:
    """Mean IoU between consecutive masks bool[T,H,W] (1.0 for fewer than 2 frames)."""
    from niljax.reference.segment import mask_iou

    masks = np.asarray(masks, bool)
    return float(mask_iou(masks[1:], masks[:-1]).mean()) if len(masks) > 1 else 1.0


def compare_generators(generators: dict[str, Any], first_image: np.ndarray, first_mask: np.ndarray, prompt: str,
                       num_candidates: int, segmenter: Any, *, kinds: dict[str, str] | None = None,
                       mse_weight: float = 1.0, aspect_tol: float = 0.02,
                       allow_crop: bool = False) -> tuple[list[ModelRow], dict[str, Any]]:
    """Run every generator ({label: VideoGenerator}) on the same first frame uint8[H,W,3] and prompt.

    Returns the table rows and, per label, {"frames": chosen video aligned to H x W, "masks", "selection": the
    model's selection table (list of dicts)}.
    """
    from niljax.reference import align, select
    from niljax.reference.segment import mask_iou

    if len(generators) < 1:
        raise ReferencePreparationError("the comparison needs at least one generator")
    h, w = first_image.shape[:2]
    rows, details = [], {}
    for label, generator in generators.items():
        t0 = time.time()
        candidates = generator.generate(first_image, prompt, num_candidates)
        seconds = time.time() - t0
        if not candidates:
            raise ReferencePreparationError(f"model {label!r} produced no candidate video")
        aligned = [align.align_frames(c.frames, h, w, aspect_tol=aspect_tol, allow_crop=allow_crop) for c in candidates]
        short = [i for i, a in enumerate(aligned) if len(a) < 3]
        if short:
            raise ReferencePreparationError(f"model {label!r}: candidates {short} have fewer than 3 frames")
        best, table = select.select_best(aligned, first_image, mse_weight=mse_weight)
        frames = aligned[best]
        masks = segmenter.segment(frames, first_mask)
        row = table[best]
        rows.append(ModelRow(model=label, kind=(kinds or {}).get(label, getattr(generator, "kind", "?")),
                             num_candidates=len(candidates), chosen=best, num_frames=len(frames),
                             fps=float(candidates[best].fps), flow_variance=row.flow_variance,
                             first_frame_mse=row.first_frame_mse, start_mse=row.start_mse,
                             mask_iou_stability=mask_stability(masks),
                             first_mask_iou=float(mask_iou(masks[0], first_mask)), generate_s=round(seconds, 2)))
        details[label] = {"frames": frames, "masks": masks, "selection": [dataclasses.asdict(r) for r in table]}
    return rows, details


def format_comparison(rows: list[ModelRow]) -> str:
    """The comparison as a Markdown table (one row per model)."""
    head = ("| model | kind | cand. | chosen | frames | flow var. ↓ | first-frame MSE ↓ | start MSE ↓ | "
            "mask IoU stability ↑ | first-mask IoU ↑ | generate (s) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(f"| {r.model} | {r.kind} | {r.num_candidates} | {r.chosen} | {r.num_frames} @ {r.fps:g} fps | "
                     f"{r.flow_variance:.4g} | {r.first_frame_mse:.4g} | {r.start_mse:.4g} | "
                     f"{r.mask_iou_stability:.3f} | {r.first_mask_iou:.3f} | {r.generate_s:.1f} |")
    return "\n".join(lines)


def comparison_sheet(rows: list[ModelRow], details: dict[str, Any], first_image: np.ndarray, *, cols: int = 8,
                     tile: int = 128, title: str = "") -> Any:
    """PIL image: one row per model (our first frame, then up to `cols` frames of its chosen video evenly spaced in
    time, mask overlaid in red, the row's numbers above it)."""
    from PIL import Image, ImageDraw

    from niljax.reference.report import _tile, overlay_mask

    pad, label_h = 6, 30
    ncols = min(cols, max(len(details[r.model]["frames"]) for r in rows))
    cell_w, cell_h = tile + pad, tile + label_h + pad
    sheet = Image.new("RGB", ((ncols + 1) * cell_w + pad, len(rows) * cell_h + pad + 18), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    draw.text((pad, 3), title[:220], fill=(0, 0, 0))
    first = _tile(first_image, tile)
    for r_i, row in enumerate(rows):
        frames, masks = details[row.model]["frames"], details[row.model]["masks"]
        y = 18 + r_i * cell_h + pad
        name = Path(row.model).name or row.model  # a weights folder: its last part
        draw.text((pad, y), f"{name} [{row.kind}], chosen #{row.chosen} of {row.num_candidates} candidates", fill=(0, 0, 0))
        draw.text((pad, y + 13), f"flow var {row.flow_variance:.3g} | first-frame MSE {row.first_frame_mse:.3g} | "
                                 f"mask IoU stability {row.mask_iou_stability:.2f} | first-mask IoU "
                                 f"{row.first_mask_iou:.2f}", fill=(70, 70, 70))
        sheet.paste(Image.fromarray(first), (pad, y + label_h))
        idx = np.unique(np.linspace(0, len(frames) - 1, ncols).round().astype(int))
        for c_i, t in enumerate(idx):
            img = _tile(overlay_mask(frames[t], masks[t]), tile)
            x = pad + (c_i + 1) * cell_w
            sheet.paste(Image.fromarray(img), (x, y + label_h))
            draw.text((x + 2, y + label_h + 2), f"t={t}", fill=(255, 255, 255))
    return sheet


def write_comparison(folder: Path, rows: list[ModelRow], details: dict[str, Any], first_image: np.ndarray,
                     settings: dict[str, Any], *, title: str = "") -> dict[str, Path]:
    """Write contact_sheet.png, table.md and comparison.json into `folder` (see the module docstring)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    table = format_comparison(rows)
    sheet = folder / "contact_sheet.png"
    comparison_sheet(rows, details, first_image, title=title).save(sheet)
    (folder / "table.md").write_text(table + "\n")
    data = {"settings": settings, "rows": [dataclasses.asdict(r) for r in rows],
                "selection": {k: v["selection"] for k, v in details.items()}}
    (folder / "comparison.json").write_text(json.dumps(data, indent=2) + "\n")
    return {"contact_sheet": sheet, "table": folder / "table.md", "json": folder / "comparison.json"}


def compare_references(config: ReferenceConfig, *, generators: dict[str, Any] | None = None,
                       segmenter: Any = None) -> Path:
    """Stage 1's first steps with several video models (`--model A --model B ...`); returns `<out>/comparison`.

    `generators` ({label: VideoGenerator}) overrides the ones `config.model` would load (Python API / tests).
    Written through the same staging as a bundle run (and it replaces that run's parts in `out`).
    """
    config.validate()
    if generators is None and not config.is_comparison:
        raise ReferencePreparationError("a comparison needs --backend diffusers and at least two --model")
    staged(config, lambda stage: _compare_into(config, stage, generators=generators, segmenter=segmenter))
    return Path(config.out) / "comparison"


def _compare_into(config: ReferenceConfig, out: Path, *, generators: dict[str, Any] | None, segmenter: Any) -> None:
    from niljax.reference import align, generate
    from niljax.reference.first_frame import render_first_frame
    from niljax.robots import load_robot

    scene = load_robot(config.robot, mjcf_path=config.mjcf_path, plain_background=True)
    gen_h, gen_w = config.gen_height or config.height, config.gen_width or config.width
    start_q = None
    if config.trajectory and config.start_from_trajectory:
        from niljax.reference.first_frame import load_trajectory

        start_q = load_trajectory(config.trajectory, scene, fps=config.trajectory_fps)[0][0]
    first = render_first_frame(scene, gen_h, gen_w, qpos=start_q)
    first.save(out)
    robot_label = config.robot_label or scene.name.upper()
    prompt = config.prompt or generate.format_prompt(config.prompt_template, robot=robot_label, skill=config.skill)
    kinds: dict[str, str] = {}
    if generators is None:
        generators = {}
        for model, kind in config.model_kinds():
            generators[model] = diffusers_generator(config, model, kind, gen_h, gen_w)
            kinds[model] = kind
    first_mask = align.align_masks(first.mask[None], gen_h, gen_w)[0]
    rows, details = compare_generators(
        generators, first.image, first_mask, prompt, config.num_candidates, segmenter or build_segmenter(config),
        kinds=kinds, mse_weight=config.mse_weight, aspect_tol=config.aspect_tol, allow_crop=config.allow_crop)
    settings = dict(robot=scene.name, prompt=prompt, num_candidates=config.num_candidates, num_frames=config.num_frames,
                    num_inference_steps=config.num_inference_steps, seed=config.seed, size=[gen_h, gen_w],
                    models=dict(config.model_kinds()) if not kinds else kinds)
    write_comparison(out / "comparison", rows, details, first.image, settings,
                             title=f"{scene.name} | {prompt} | {len(rows)} models x {config.num_candidates} candidates")
