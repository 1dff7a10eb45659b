"""NIL paper ablation on H1 walking: video only (see _common.py for flags and sizes)."""

from _common import run

if __name__ == "__main__":
    run("h1", ablation="video_only")
