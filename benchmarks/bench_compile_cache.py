"""Start-up of the same `niljax train` twice: first with an empty persistent compilation cache, then warm.

Both starts are fresh processes running the same config for one chunk (the demo's toy arm by default; `--robot`
and `--mjcf` with a `--trajectory` take any robot), each into a new run folder, so the second one differs only
by the cache. The demo reference is made first, outside the timings. Writes
`benchmarks/results/compile_cache_<device>.json` with both wall times, their ratio, the cache's size and the
machine's load average (a busy CPU stretches both; the ratio is what to read).

    .venv/bin/python benchmarks/bench_compile_cache.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return time.perf_counter() - t0


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default=f"cpu-{os.cpu_count()}core")
    p.add_argument("--out", default=None)
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = p.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="niljax-bench-cache-"))
    cache = scratch / "jax-cache"
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    python = [sys.executable, "-m", "niljax.cli"]
    # The demo's reference and config (made with the cache off, so the measured first start finds it empty).
    run(python + ["demo", "--out", str(scratch / "demo"), "--env-steps", "1000", "--no-progress"],
        {**env, "NILJAX_COMPILE_CACHE": str(scratch / "unused-cache")})
    config = scratch / "demo" / "run" / "config.json"
    base = python + ["train", "--config", str(config), "--total-env-steps", "1000", "--no-progress",
                     "--no-write-video", "--compile-cache-dir", str(cache)]
    load_before = os.getloadavg()
    first = run(base + ["--run-dir", str(scratch / "first")], env)
    size = folder_bytes(cache)
    second = run(base + ["--run-dir", str(scratch / "second")], env)
    load_after = os.getloadavg()
    no_cache = run(base + ["--run-dir", str(scratch / "off"), "--no-compile-cache"], env)
    result = {
        "device": args.device, "python": platform.python_version(),
        "command": "niljax train --config <demo run>/config.json --total-env-steps 1000 (toy arm, 16 envs, 64x64, "
                   "tiny TimeSformer): one chunk + two evaluations + checkpoints, a fresh process each",
        "first_start_s": round(first, 1), "second_start_s": round(second, 1),
        "cache_off_start_s": round(no_cache, 1), "speedup": round(first / second, 2),
        "cache_entries": len([f for f in cache.rglob("*") if f.is_file()]), "cache_mb": round(size / 2**20, 1),
        "load_average_before_after": [round(x, 2) for x in (*load_before, *load_after)],
    }
    print(json.dumps(result, indent=2))
    out = Path(args.out or Path(__file__).parent / "results" / f"compile_cache_{args.device}.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
