"""Rebuild niljax/data/ (the LocoMuJoCo walks and the trimmed A1 model the package ships) from a LocoMuJoCo copy.

A maintainer tool, run once; users never need it. It reads the LocoMuJoCo 0.4.1 files (MIT) laid out as in
`../shared/locomujoco` (models/unitree_a1/..., datasets/*.npz) and writes:

- niljax/data/mocap/<robot>-walk.npz: the q_<joint> / dq_<joint> arrays as float64 (unchanged values), plus
  `frequency` = 500 (LocoMuJoCo loads these "real" datasets at traj_data_freq = 500 Hz; their dq_ velocities
  agree) and `source`. A1: only the first of the file's three takes (frames 0-500; each take restarts at x = 0,
  so looping across a take boundary goes nowhere); the `dir_arrow`, `goal_speed` and `split_points` keys are cut.
- niljax/data/models/unitree_a1/: LocoMuJoCo's unitree_a1_torque.xml unchanged, with its five visual meshes
  decimated by quadric simplification (fast-simplification) to at most `--faces` triangles each (the meshes
  are visual only: contype 0, explicit inertials; collisions are primitives, so the physics is unchanged).

    python -m venv /tmp/meshtool && /tmp/meshtool/bin/pip install numpy trimesh fast-simplification
    /tmp/meshtool/bin/python scripts/make_shipped_data.py --locomujoco ../shared/locomujoco
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WALKS = {  # shipped name -> (LocoMuJoCo file, frames kept or None for all)
    "a1-walk": ("walk_straight_UnitreeA1.npz", (0, 500)),
    "h1-walk": ("02-constspeed_UnitreeH1.npz", None),
    "g1-walk": ("02-constspeed_UnitreeG1.npz", None),
    "talos-walk": ("02-constspeed_TALOS.npz", None),
}
FREQUENCY = 500.0


def write_walks(src: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, (fname, frames) in WALKS.items():
        with np.load(src / "datasets" / fname, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k], np.float64) for k in data.files if k.startswith(("q_", "dq_"))}
        if frames is not None:
            arrays = {k: v[frames[0]:frames[1]] for k, v in arrays.items()}
        kept = f"frames {frames[0]}-{frames[1]}" if frames else "all frames"
        np.savez_compressed(out / f"{name}.npz", frequency=np.float64(FREQUENCY),
                            source=np.str_(f"LocoMuJoCo 0.4.1 datasets/{fname} ({kept})"), **arrays)
        print(f"{name}: {len(next(iter(arrays.values())))} frames, {(out / f'{name}.npz').stat().st_size} bytes")


def write_a1(src: Path, out: Path, faces: int) -> None:
    import fast_simplification
    import trimesh

    model = src / "models" / "unitree_a1"
    (out / "assets").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model / "unitree_a1_torque.xml", out / "unitree_a1_torque.xml")
    shutil.copyfile(model / "assets" / "trunk_A1.png", out / "assets" / "trunk_A1.png")
    for stl in sorted((model / "assets").glob("*.stl")):
        mesh = trimesh.load(stl, force="mesh")
        reduction = max(0.0, 1.0 - faces / len(mesh.faces))
        v, f = fast_simplification.simplify(mesh.vertices, mesh.faces, target_reduction=reduction)
        small = trimesh.Trimesh(v, f, process=True)
        small.export(out / "assets" / stl.name)  # binary STL
        print(f"{stl.name}: {len(mesh.faces)} -> {len(small.faces)} faces, "
              f"{(out / 'assets' / stl.name).stat().st_size} bytes")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--locomujoco", default=str(ROOT.parent / "shared" / "locomujoco"))
    p.add_argument("--faces", type=int, default=1500, help="triangles per decimated mesh (at most)")
    args = p.parse_args()
    src = Path(args.locomujoco)
    data = ROOT / "niljax" / "data"
    write_walks(src, data / "mocap")
    write_a1(src, data / "models" / "unitree_a1", args.faces)
    shutil.copyfile(src / "LICENSE", data / "LICENSE.locomujoco")


if __name__ == "__main__":
    main()
