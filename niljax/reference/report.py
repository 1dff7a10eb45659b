"""Report: a contact-sheet PNG and a JSON summary of a Stage 1 run.

Contract: `write_report(folder, frames uint8[T,H,W,3], masks bool[T,H,W], summary dict, candidates=[...],
selected=i, first_frame=...) -> (png_path, json_path)`. The sheet shows: row 0, our first frame and the first
frame of every candidate (the selected one framed in green, the others in grey, with their scores); then
`rows` x `cols` frames of the final reference evenly spaced in time with the mask overlaid in translucent
red and the frame index/time printed. Written atomically (temporary file then rename).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from niljax.reference.video_io import atomic_path


def overlay_mask(frame: np.ndarray, mask: np.ndarray, color=(255, 40, 40), alpha: float = 0.45) -> np.ndarray:
    """Blend `color` into frame uint8[H,W,3] where mask bool[H,W]; also draws the mask outline."""
    out = frame.astype(np.float32).copy()
    out[mask] = (1 - alpha) * out[mask] + alpha * np.asarray(color, np.float32)
    edge = mask & ~(np.roll(mask, 1, 0) & np.roll(mask, -1, 0) & np.roll(mask, 1, 1) & np.roll(mask, -1, 1))
    out[edge] = color
    return out.astype(np.uint8)


def _tile(img: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    h, w = img.shape[:2]
    scale = size / max(h, w)
    return np.asarray(Image.fromarray(img).resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                                  Image.Resampling.BILINEAR))


def contact_sheet(frames: np.ndarray, masks: np.ndarray, *, fps: float, candidates: list[np.ndarray] | None = None,
                  candidate_labels: list[str] | None = None, selected: int | None = None,
                  first_frame: np.ndarray | None = None, cols: int = 6, rows: int = 3, tile: int = 160,
                  title: str = ""):
    """Build the contact sheet as a PIL image (see the module docstring)."""
    from PIL import Image, ImageDraw

    pad, label_h = 6, 14
    n = min(len(frames), cols * rows)
    idx = np.unique(np.linspace(0, len(frames) - 1, n).round().astype(int))
    header = []
    if first_frame is not None:
        header.append((first_frame, "our first frame", (60, 60, 200)))
    for i, c in enumerate(candidates or []):
        label = (candidate_labels[i] if candidate_labels else f"cand {i}")
        header.append((c, label, (30, 170, 30) if i == selected else (150, 150, 150)))
    ncols = max(cols, len(header))
    cell_w, cell_h = tile + pad, tile + label_h + pad
    n_rows = (1 if header else 0) + int(np.ceil(len(idx) / cols))
    sheet = Image.new("RGB", (ncols * cell_w + pad, n_rows * cell_h + pad + 18), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    draw.text((pad, 3), title[:160], fill=(0, 0, 0))
    y0 = 18
    for k, (img, label, color) in enumerate(header):
        t = _tile(img, tile)
        x, y = pad + k * cell_w, y0 + pad
        sheet.paste(Image.fromarray(t), (x, y + label_h))
        draw.rectangle([x - 3, y + label_h - 3, x + t.shape[1] + 2, y + label_h + t.shape[0] + 2], outline=color,
                       width=3)
        draw.text((x, y), label[:28], fill=color)
    if header:
        y0 += cell_h
    for k, i in enumerate(idx):
        r, c = divmod(k, cols)
        t = _tile(overlay_mask(frames[i], masks[i]), tile)
        x, y = pad + c * cell_w, y0 + pad + r * cell_h
        sheet.paste(Image.fromarray(t), (x, y + label_h))
        draw.text((x, y), f"t={i} ({i / fps:.2f}s) mask {100 * masks[i].mean():.0f}%", fill=(0, 0, 0))
    return sheet


def write_report(folder: str | Path, frames: np.ndarray, masks: np.ndarray, summary: dict[str, Any], *,
                 fps: float, candidates: list[np.ndarray] | None = None, candidate_labels: list[str] | None = None,
                 selected: int | None = None, first_frame: np.ndarray | None = None,
                 title: str = "") -> tuple[Path, Path]:
    """Write contact_sheet.png and summary.json into `folder` (atomically). Returns both paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sheet = contact_sheet(frames, masks, fps=fps, candidates=candidates, candidate_labels=candidate_labels,
                          selected=selected, first_frame=first_frame, title=title)
    png = folder / "contact_sheet.png"
    tmp = atomic_path(png)
    try:
        sheet.save(tmp, format="PNG")
        os.replace(tmp, png)
    finally:
        if tmp.exists():
            tmp.unlink()
    js = folder / "summary.json"
    tmp = atomic_path(js)
    try:
        tmp.write_text(json.dumps(summary, indent=2, default=_json_default))
        os.replace(tmp, js)
    finally:
        if tmp.exists():
            tmp.unlink()
    return png, js


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    return str(x)
