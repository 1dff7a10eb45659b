"""NIL paper setting: talos walking, full reward (see _common.py for flags and sizes)."""

from _common import run

if __name__ == "__main__":
    run("talos")
