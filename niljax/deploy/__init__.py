"""After training: export a policy, play it in C MuJoCo, and check it survives the change of simulator.

- `niljax.deploy.controller`: the observation and control law in numpy for `mujoco.MjData` (mirrors
  `niljax.sim.NilEnv`, tested against it), `ControllerSpec` (what policy.json records of them).
- `niljax.deploy.numpy_policy`: the deterministic actor's forward pass in pure numpy (`policy.npz`).
- `niljax.deploy.onnx_graph`: the same actor as an ONNX graph (`onnx.helper`), run with onnxruntime.
- `niljax.deploy.export`: `niljax export RUN` (policy.json + npz [+ onnx]), `load_export`.
- `niljax.deploy.play`: `niljax play RUN`: C MuJoCo rollout from the protocol's start state, mp4, score.
- `niljax.deploy.sim2sim`: `niljax sim2sim RUN`: MJX vs C MuJoCo divergence, scores, robustness table.

Comes after training: it may import robots, sim, learner, reward and train; nothing but the CLI imports it.
docs/deploy.md.
"""
