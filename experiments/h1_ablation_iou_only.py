"""NIL paper ablation on H1 walking: iou only (see _common.py for flags and sizes)."""

from _common import run

if __name__ == "__main__":
    run("h1", ablation="iou_only")
