#!/usr/bin/env bash
# The GPU run of the benchmark suite, under 8 minutes on one H100/H200; results in benchmarks/results/<device>/.
#
#   bash benchmarks/device_suite.sh                 # from anywhere; uses $PYTHON (default: python3)
#
# 1. bench_suite.py --preset gpu (H1, 224 px, warp renderer, both camera anchors, TimeSformer-base size with
#    random weights in bf16, BRO official networks, batch 1024, replay ratio 10): the original-style baseline,
#    niljax over N = 1 .. 1024 with the video term every step and every 8 steps, the per-stage split, and the
#    roofline (encoder FLOPs against a bf16 matmul measured in the same run). `--budget-s` stops starting new
#    niljax runs after 190 s (skipped runs are listed in the JSON; the most informative runs go first).
# 2. A 3-minute H1 training throughput probe: experiments/walking.py at the GPU tier (the paper table's
#    setting, N = 1024) with a random-init TimeSformer-base (no hub access needed; set ENCODER_WEIGHTS to a
#    local K400 folder to use the real weights), killed after 180 s (less if the suite ran long); the
#    env-steps/s of its chunks are read from metrics.jsonl (written line by line, valid after a kill) into
#    probe_h1.json.
# DRY_RUN=1 prints the two heavy commands instead of running them (everything else runs: a CPU check).
#
# Needs: the project installed with jax[cuda], mujoco-mjx, warp-lang, torch, transformers (a CPU torch works:
# the baseline's TimeSformer then runs on the host, as stated in the JSON). The LocoMuJoCo H1 model and walk
# are looked up in $NILJAX_SHARED, ./shared, ../shared; without them the suite uses the registry's H1 and the
# probe is skipped (it needs the mocap walk). Every step writes its log to the results folder.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 MUJOCO_GL=${MUJOCO_GL:-egl}
# JAX, warp and torch share one GPU: JAX must not take 75% of its memory up front.
export XLA_PYTHON_CLIENT_PREALLOCATE=${XLA_PYTHON_CLIENT_PREALLOCATE:-false}
T0=$(date +%s)
RUN=""
if [ -n "${DRY_RUN:-}" ]; then RUN=echo; fi

DEVICE=$($PY -c 'import sys; sys.path.insert(0, "benchmarks"); from bench_timesformer import machine_name; print(machine_name())') || {
  echo "device_suite: python/jax not usable ($PY)"; exit 1; }
RESULTS=${RESULTS_DIR:-benchmarks/results/$DEVICE}
mkdir -p "$RESULTS"
echo "device_suite: $DEVICE -> $RESULTS"
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1; uptime;
  $PY -c 'import jax; print(jax.__version__, jax.devices())'; } > "$RESULTS/environment.txt" 2>&1

SHARED=""
for d in "${NILJAX_SHARED:-}" shared ../shared; do
  if [ -n "$d" ] && [ -f "$d/locomujoco/models/unitree_h1/h1.xml" ]; then SHARED=$(cd "$d" && pwd); break; fi
done
MJCF_ARGS=()
if [ -n "$SHARED" ]; then
  MJCF_ARGS=(--mjcf "$SHARED/locomujoco/models/unitree_h1/h1.xml")
  export NILJAX_SHARED=$SHARED
else
  echo "device_suite: no LocoMuJoCo fixtures found: suite on the registry's H1, probe skipped"
fi

# 1. The suite (compiles dominate): no niljax run starts after 190 s, hard stop at 300 s. The JSON is rewritten
#    after every run, so a run cut by the timeout still leaves what was measured ("complete": false). Runs go
#    in priority order: N = 1024 and N = 1 with k = 1, then both with k = 8, then the N between.
$RUN timeout 300 $PY benchmarks/bench_suite.py --preset gpu ${MJCF_ARGS[@]+"${MJCF_ARGS[@]}"} --robot h1 \
  --out-dir "$RESULTS" --device-name "$DEVICE" --budget-s 190 --torch-threads 0 2>&1 | tee "$RESULTS/suite.log"
echo "device_suite: suite exit ${PIPESTATUS[0]} after $(( $(date +%s) - T0 )) s"

# 2. The H1 training throughput probe (180 s, whatever is left of 8 minutes minus a margin).
LEFT=$(( 470 - ($(date +%s) - T0) ))
PROBE_S=$(( LEFT < 180 ? LEFT : 180 ))
if [ -n "$SHARED" ] && [ "$PROBE_S" -gt 60 ]; then
  RUN_DIR=$(mktemp -d)/walking
  ENC=(--set 'encoder.kind="timesformer-random"' --set 'encoder.preset="base"')
  if [ -n "${ENCODER_WEIGHTS:-}" ]; then ENC=(--encoder-weights "$ENCODER_WEIGHTS"); fi
  $RUN timeout "$PROBE_S" $PY experiments/walking.py --robot h1 --tier gpu --seed 0 --out "$RUN_DIR" --no-progress \
    --mjcf "$SHARED/locomujoco/models/unitree_h1/h1.xml" \
    --trajectory "$SHARED/locomujoco/datasets/02-constspeed_UnitreeH1.npz" \
    --env-steps 100000000 --eval-every 100000000 --set iterations_per_call=2 --set write_video=false "${ENC[@]}" \
    2>&1 | tee "$RESULTS/probe_h1.log"
  $PY - "$RUN_DIR" "$RESULTS/probe_h1.json" "$PROBE_S" <<'EOF'
import json, pathlib, sys
run, out, limit = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), int(sys.argv[3])
files = list(run.rglob("metrics.jsonl"))
rows = [json.loads(l) for f in files for l in f.read_text().splitlines() if l.strip()]
rates = [r["perf/env_steps_per_s"] for r in rows if "perf/env_steps_per_s" in r]
cfg = next(iter(run.rglob("config.json")), None)
result = {"benchmark": "h1_training_probe", "seconds_allowed": limit, "chunks": len(rates),
          "env_steps_per_s_per_chunk": rates,
          "env_steps_per_s_after_first_chunk": (sum(rates[1:]) / len(rates[1:])) if len(rates) > 1 else None,
          "last_record": rows[-1] if rows else None,
          "config": json.loads(cfg.read_text()) if cfg else None,
          "note": "the first chunk includes compilation; the reference bundle and the evaluation before training "
                  "run before it (see probe_h1.log)"}
out.write_text(json.dumps(result, indent=2, default=str) + "\n")
print("probe:", {k: result[k] for k in ("chunks", "env_steps_per_s_after_first_chunk")})
EOF
fi
echo "device_suite: done in $(( $(date +%s) - T0 )) s; results in $RESULTS"
ls -l "$RESULTS"
