"""Bring LocoMuJoCo's robot models that the package does not ship (H1, G1, Talos: about 50 MB with meshes).

    python -m niljax.data.fetch                 # -> ~/.cache/niljax/locomujoco/models/{unitree_h1,unitree_g1,talos}
    python -m niljax.data.fetch --dest DIR      # -> DIR/models/...; then export NILJAX_LOCOMUJOCO=DIR

It downloads LocoMuJoCo 0.4.1's source release (MIT) from PyPI with pip (`pip download --no-deps
loco-mujoco==0.4.1`, 30 MB, needs the network) and unpacks `loco_mujoco/environments/data/<robot>/` of the
robots asked for into `<dest>/models/<robot>/`, with LocoMuJoCo's LICENSE: the layout `niljax.data.locomujoco_file`
and the experiments read. The mocap walks and A1's model are shipped in the package and need no download.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from niljax.data import locomujoco_dirs

RELEASE = "loco-mujoco==0.4.1"
MODELS = {"h1": "unitree_h1", "g1": "unitree_g1", "talos": "talos"}  # robot -> folder in LocoMuJoCo's data


def extract_models(sdist: Path, dest: Path, folders: list[str]) -> list[Path]:
    """Unpack `loco_mujoco/environments/data/<folder>/` of the sdist into `dest/models/<folder>/` (and the
    LICENSE into `dest/`); returns the model folders written. Only regular files are written, to paths built here
    from their checked names (no links, no `..`), so nothing can land outside `dest` on any Python 3.11 patch
    release (tarfile's `filter=` argument only exists from 3.11.4; Debian 12 ships 3.11.2)."""
    written = set()
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if len(parts) == 2 and parts[1] == "LICENSE" and member.isfile():
                _write_member(tar, member, dest / "LICENSE")
                continue
            if len(parts) < 6 or parts[1:4] != ("loco_mujoco", "environments", "data") or parts[4] not in folders:
                continue
            if not member.isfile() or ".." in parts:  # regular files inside the folder only
                continue
            _write_member(tar, member, dest.joinpath("models", *parts[4:]))
            written.add(dest / "models" / parts[4])
    return sorted(written)


def _write_member(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(member)
    assert source is not None  # callers pass regular files only
    with source, open(target, "wb") as out:
        out.write(source.read())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dest", default=None, help=f"target folder (default {locomujoco_dirs()[0]})")
    p.add_argument("--robots", nargs="+", default=sorted(MODELS), choices=sorted(MODELS))
    p.add_argument("--sdist", default=None, help="a loco-mujoco-0.4.1.tar.gz already downloaded (skips pip)")
    args = p.parse_args(argv)
    dest = Path(args.dest or locomujoco_dirs()[0]).expanduser()
    with tempfile.TemporaryDirectory() as tmp:
        sdist = Path(args.sdist) if args.sdist else None
        if sdist is None:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                   "-d", tmp, RELEASE]
            print("niljax fetch:", " ".join(cmd), flush=True)
            if subprocess.run(cmd).returncode != 0:
                print(f"niljax fetch: pip could not download {RELEASE} (network?)", file=sys.stderr)
                return 1
            sdist = next(Path(tmp).glob("loco*mujoco-0.4.1.tar.gz"))
        folders = extract_models(sdist, dest, [MODELS[r] for r in args.robots])
    for folder in folders:
        print(f"niljax fetch: {folder}")
    if args.dest:
        print(f"niljax fetch: export NILJAX_LOCOMUJOCO={dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
