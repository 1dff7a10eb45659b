"""NIL paper ablation on H1 walking: no regularisation (see _common.py for flags and sizes)."""

from _common import run

if __name__ == "__main__":
    run("h1", ablation="no_regularisation")
