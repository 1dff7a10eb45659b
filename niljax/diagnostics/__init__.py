"""Reward diagnostics over a reference bundle: `niljax score` and `niljax landscape`.

- `score`: per-step reward terms of any video (masks from the background-colour fallback or SAM2) or of a
  training run's evaluation rollout against a bundle, as JSON + a PNG of the curves.
- `landscape`: the reward of the bundle's own motion (re-rendered), time-shifted, slowed / sped-up replays, a
  standing robot and random motions, as JSON + PNG (needs a replayed bundle: one that records `qpos`).

A tool layer on top of the stages (it uses the robot, renderer, reward and, for runs, the trainer); no stage
imports it. Heavy modules are imported inside the functions, so `niljax score --help` stays instant.
"""
