"""`niljax plan` figures for the GPU tier (H1, 224x224, TimeSformer-base in bfloat16, BRO large-batch mode: batch 4096, 2 updates per env step, replay 2M):
N = 256, 1024, 4096, without and with encoder chunks, against an 80 GB (H100) and a 141 GB (H200) device.

Nothing is compiled or allocated: shapes and XLA cost analysis of lowered programs only, so this runs on a CPU.
Writes `benchmarks/results/plan_gpu_tier.json` and prints the markdown table that docs/training.md shows.

    .venv/bin/python benchmarks/plan_gpu_tier.py
"""

from __future__ import annotations

import json
from pathlib import Path

from niljax import _runtime

_runtime.configure()

from niljax.encoders.factory import EncoderConfig  # noqa: E402
from niljax.learner.config import BROConfig  # noqa: E402
from niljax.render import RenderConfig  # noqa: E402
from niljax.reward import RewardConfig  # noqa: E402
from niljax.train.config import TrainConfig  # noqa: E402
from niljax.train.plan import GIB, format_flops, parse_bytes, plan_run  # noqa: E402

DEVICES = {"H100 80 GB": "80GB", "H200 141 GB": "141GB"}
SIZES = (256, 1024, 4096)
CHUNKS = (0, 128)


def gpu_tier(num_envs: int, chunk: int) -> TrainConfig:
    """The GPU tier of experiments/_common.py (the paper-table runs), for N envs."""
    return TrainConfig(robot="h1", num_envs=num_envs, render=RenderConfig(height=224, width=224, backend="warp"),
                       encoder=EncoderConfig(kind="timesformer"),
                       reward=RewardConfig(encoder_dtype="bfloat16", encoder_chunk=chunk),
                       learner=BROConfig(replay_mode="large_batch", updates_per_env_step=2, batch_size=4096,
                                         replay_capacity=2_000_000, reset_steps=(15_000,)))


def main() -> None:
    rows = []
    for n in SIZES:
        flops = None
        for chunk in CHUNKS:
            plan = plan_run(gpu_tier(n, chunk), flops=flops is None, device_memory=parse_bytes("80GB"),
                            reference_frames=500)
            if flops is None:
                flops = plan.flops
            fits = {name: plan.total_bytes <= plan.headroom * parse_bytes(size) for name, size in DEVICES.items()}
            rows.append({"num_envs": n, "encoder_chunk": chunk, "total_gib": plan.total_bytes / GIB,
                         "items_gib": {i.name: i.bytes / GIB for i in plan.items}, "fits": fits,
                         "flops_per_iteration": flops, "summary": plan.summary})
            print(plan.table(), "\n")
    out = Path(__file__).parent / "results" / "plan_gpu_tier.json"
    out.write_text(json.dumps({"devices": DEVICES, "headroom": 0.9, "rows": rows}, indent=2) + "\n")
    names = list(rows[0]["items_gib"])
    print("| N | encoder chunk | " + " | ".join(names) + " | total GiB | " + " | ".join(DEVICES) + " |")
    print("|" + "---|" * (len(names) + 3 + len(DEVICES)))
    for r in rows:
        cells = [f"{r['items_gib'][k]:.2f}" for k in names]
        verdicts = ["fits" if r["fits"][d] else "refused" for d in DEVICES]
        print(f"| {r['num_envs']} | {r['encoder_chunk'] or 'all N'} | " + " | ".join(cells)
              + f" | {r['total_gib']:.1f} | " + " | ".join(verdicts) + " |")
    print("\n| N | " + " | ".join(rows[0]["flops_per_iteration"]) + " |")
    for r in rows[:: len(CHUNKS)]:
        print(f"| {r['num_envs']} | " + " | ".join(format_flops(v) for v in r["flops_per_iteration"].values()) + " |")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
