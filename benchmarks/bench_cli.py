"""CLI start-up: wall time of `niljax COMMAND --help` for every subcommand (issue 19: under 2 s each).

Each call is a fresh process (what a user types), repeated `--repeats` times; the median and max are printed and
written as JSON to `benchmarks/results/cli_<device>.json`. Run it on an idle machine: a busy CPU inflates
start-up times.

    .venv/bin/python benchmarks/bench_cli.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from niljax.cli import COMMANDS


def time_help(command: str | None, repeats: int) -> list[float]:
    argv = [sys.executable, "-m", "niljax.cli"] + ([command] if command else []) + ["--help"]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device", default=f"cpu-{os.cpu_count()}core")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    rows = []
    for command in [None, *sorted(COMMANDS)]:
        times = time_help(command, args.repeats)
        rows.append({"command": f"niljax {command or ''} --help".replace("  ", " "),
                     "median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3)})
        print(f"{rows[-1]['command']:<32} median {rows[-1]['median_s']:.2f} s   max {rows[-1]['max_s']:.2f} s")
    out = Path(args.out or Path(__file__).parent / "results" / f"cli_{args.device}.json")
    out.write_text(json.dumps({"device": args.device, "python": platform.python_version(),
                               "repeats": args.repeats, "budget_s": 2.0, "results": rows}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
