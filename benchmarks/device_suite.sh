#!/usr/bin/env bash
# The GPU run of the benchmark suite, under 9 minutes on one H100/H200; results in benchmarks/results/<device>/.
#
#   bash benchmarks/device_suite.sh                 # from anywhere; uses $PYTHON (default: python3)
#
# 0. Refuses to start when JAX's backend is the CPU (a CUDA plugin that is missing or failed to load: JAX only
#    warns, and every "GPU" figure would be the CPU's): `niljax doctor` says why. ALLOW_CPU=1 runs it anyway.
# 1. bench_suite.py --preset gpu: the GPU tier of niljax.train.tiers (H1, 224 px, warp renderer, both camera
#    anchors, TimeSformer-base size with random weights in bf16 and the tier's encoder chunk, BRO official
#    networks in large_batch mode: batch 4096, K = 2 N / 32 updates per iteration, as experiments/walking.py
#    --tier gpu trains): the original-style baseline, niljax over N = 1 .. 1024 with the video term every step
#    and every 8 steps, the per-stage split, and the roofline (encoder FLOPs against a bf16 matmul measured in
#    the same run). `--budget-s` stops starting new niljax runs after 190 s (skipped runs, and any N the memory
#    plan refuses, are listed in the JSON; the most informative runs go first).
# 2. A 3-minute H1 training throughput probe: experiments/walking.py --tier gpu (the paper table's setting,
#    N = 1024) with a random-init TimeSformer-base (no hub access needed; set ENCODER_WEIGHTS to a local K400
#    folder to use the real weights) and no random warm-up (every chunk updates the learner), killed after 180 s
#    (less if the suite ran long); the env-steps/s of its chunks are read from metrics.jsonl (written line by
#    line, valid after a kill) into probe_h1.json.
# 3. Matmul precision (docs/training.md): one H1 physics rollout (256 envs, 200 steps) under the tier's physics
#    precision and under JAX's default (TF32 on this GPU), each against float32 HIGHEST: precision_h1.json.
# DRY_RUN=1 prints the heavy commands instead of running them (everything else runs: a CPU check).
#
# Needs: the project installed with jax[cuda], mujoco-mjx, warp-lang, torch, transformers (a CPU torch works:
# the baseline's TimeSformer then runs on the host, as stated in the JSON's `versions`). The LocoMuJoCo H1 model
# and walk are looked up in $NILJAX_SHARED, ./shared, ../shared, then the shipped walk and the fetch cache
# (`python -m niljax.data.fetch`); without the H1 model the suite uses the registry's H1 and the probe is
# skipped. Every step writes its log to the results folder.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 MUJOCO_GL=${MUJOCO_GL:-egl}
# JAX, warp and torch share one GPU: JAX must not take 75% of its memory up front.
export XLA_PYTHON_CLIENT_PREALLOCATE=${XLA_PYTHON_CLIENT_PREALLOCATE:-false}
T0=$(date +%s)
RUN=""
if [ -n "${DRY_RUN:-}" ]; then RUN=echo; fi

BACKEND=$($PY -c 'import jax; print(jax.default_backend())' 2>/dev/null) || {
  echo "device_suite: python/jax not usable ($PY): run \`$PY -m niljax.cli doctor\`"; exit 1; }
ALLOW=()
if [ "$BACKEND" = "cpu" ]; then
  MSG="device_suite: JAX runs on the CPU (no CUDA/TPU backend loaded: a plugin that is missing or failed to load); \`$PY -m niljax.cli doctor\` says why and how to fix it"
  if [ -n "${ALLOW_CPU:-}" ]; then
    echo "$MSG; ALLOW_CPU=1: running on the CPU anyway"; ALLOW=(--allow-cpu)
  elif [ -n "${DRY_RUN:-}" ]; then
    echo "$MSG (DRY_RUN: the commands are printed with --allow-cpu)"; ALLOW=(--allow-cpu)
  else
    echo "$MSG. ALLOW_CPU=1 runs the suite on the CPU anyway."; exit 2
  fi
fi

DEVICE=$($PY -c 'import sys; sys.path.insert(0, "benchmarks"); from bench_timesformer import machine_name; print(machine_name())') || {
  echo "device_suite: python/jax not usable ($PY)"; exit 1; }
RESULTS=${RESULTS_DIR:-benchmarks/results/$DEVICE}
mkdir -p "$RESULTS"
echo "device_suite: $DEVICE ($BACKEND) -> $RESULTS"
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1; uptime;
  $PY -c 'import jax; print(jax.__version__, jax.devices())'; } > "$RESULTS/environment.txt" 2>&1

# The H1 model and walk: a LocoMuJoCo copy ($NILJAX_SHARED, ./shared, ../shared), else niljax.data (the shipped
# walk, the model from the fetch cache); empty when the model is nowhere.
H1_FILES=$($PY - <<'EOF' 2>/dev/null
import os
from pathlib import Path
from niljax.data import locomujoco_file
search = [Path(d) / "locomujoco" for d in (os.environ.get("NILJAX_SHARED", ""), "shared", "../shared") if d]
try:
    print(Path(locomujoco_file("models/unitree_h1/h1.xml", search=search)).resolve(),
          Path(locomujoco_file("datasets/02-constspeed_UnitreeH1.npz", search=search)).resolve())
except FileNotFoundError:
    pass
EOF
)
read -r H1_MJCF H1_WALK <<< "${H1_FILES:-}"
MJCF_ARGS=()
if [ -n "${H1_MJCF:-}" ]; then
  MJCF_ARGS=(--mjcf "$H1_MJCF")
else
  echo "device_suite: LocoMuJoCo's H1 model not found (run \`$PY -m niljax.data.fetch\`): suite on the registry's H1, probe skipped"
fi

# 1. The suite (compiles dominate): no niljax run starts after 190 s, hard stop at 300 s. The JSON is rewritten
#    after every run, so a run cut by the timeout still leaves what was measured ("complete": false). Runs go
#    in priority order: N = 1024 and N = 1 with k = 1, then both with k = 8, then the N between.
$RUN timeout 300 $PY benchmarks/bench_suite.py --preset gpu ${MJCF_ARGS[@]+"${MJCF_ARGS[@]}"} --robot h1 \
  --out-dir "$RESULTS" --device-name "$DEVICE" --budget-s 190 --torch-threads 0 ${ALLOW[@]+"${ALLOW[@]}"} 2>&1 \
  | tee "$RESULTS/suite.log"
echo "device_suite: suite exit ${PIPESTATUS[0]} after $(( $(date +%s) - T0 )) s"

# 2. The H1 training throughput probe (180 s, whatever is left of 8 minutes minus a margin).
LEFT=$(( 470 - ($(date +%s) - T0) ))
PROBE_S=$(( LEFT < 180 ? LEFT : 180 ))
if [ -n "${H1_MJCF:-}" ] && [ -n "${H1_WALK:-}" ] && [ "$PROBE_S" -gt 60 ]; then
  RUN_DIR=$(mktemp -d)/walking
  ENC=(--set 'encoder.kind="timesformer-random"' --set 'encoder.preset="base"')
  if [ -n "${ENCODER_WEIGHTS:-}" ]; then ENC=(--encoder-weights "$ENCODER_WEIGHTS"); fi
  # learner.random_steps=0: every chunk includes its 64 updates (the tier's 10 warm-up iterations would leave the
  # first chunks without them and inflate the rate)
  $RUN timeout "$PROBE_S" $PY experiments/walking.py --robot h1 --tier gpu --seed 0 --out "$RUN_DIR" --no-progress \
    --mjcf "$H1_MJCF" --trajectory "$H1_WALK" ${ALLOW[@]+"${ALLOW[@]}"} \
    --env-steps 100000000 --eval-every 100000000 --set iterations_per_call=2 --set write_video=false \
    --set learner.random_steps=0 "${ENC[@]}" 2>&1 | tee "$RESULTS/probe_h1.log"
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
                  "run before it (see probe_h1.log); no random warm-up, so every chunk includes its updates"}
out.write_text(json.dumps(result, indent=2, default=str) + "\n")
print("probe:", {k: result[k] for k in ("chunks", "env_steps_per_s_after_first_chunk")})
EOF
fi

# 3. Matmul precision: H1 physics under the tier's choice and JAX's default (TF32 here) against float32 HIGHEST.
PRECISION_CODE='
import json, sys
from niljax.train.rehearse import physics_drift
from niljax.train.tiers import get_tier
chosen = get_tier("gpu").precision.physics
result = physics_drift("h1", mjcf=sys.argv[2] or None, steps=200, num_envs=256, precisions=(chosen, "default"))
result["chosen"] = chosen
open(sys.argv[1], "w").write(json.dumps(result, indent=2) + "\n")
print("precision:", result["max_abs_qpos_diff"])
'
$RUN timeout 120 $PY -c "$PRECISION_CODE" "$RESULTS/precision_h1.json" "${H1_MJCF:-}" 2>&1 | tee "$RESULTS/precision.log"

echo "device_suite: done in $(( $(date +%s) - T0 )) s; results in $RESULTS"
ls -l "$RESULTS"
