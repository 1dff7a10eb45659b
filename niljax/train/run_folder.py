"""A run folder on disk, for every command that reads one (`niljax train` to resume, `evaluate`, `score`, `table`).

    run_dir/config.json         the resolved TrainConfig (`load_config_file`)
    run_dir/checkpoints/<step>  orbax checkpoints, one folder per env-step count (`finished_checkpoints`,
                                `checkpoint_manager`)

`load_run(run_dir, reference=None) -> TrainConfig` is the one check of a run folder given on the command line:
a folder, with a config.json, with at least one checkpoint, whose reference bundle is still there (or
`reference` names its new place); each problem is a FileNotFoundError / ValueError naming the fix.
Nothing here imports jax; orbax is imported by `checkpoint_manager` only.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from niljax.train.config import TrainConfig


def load_config_file(path: str) -> TrainConfig:
    """`--config PATH` -> TrainConfig; ValueError naming the file and the fix (no traceback for a typo)."""
    from niljax.train.config import TrainConfig

    p = Path(path)
    if p.is_dir():
        hint = f" (did you mean {p / 'config.json'}?)" if (p / "config.json").is_file() else ""
        raise ValueError(f"--config {path} is a folder, not a config file{hint}")
    if not p.is_file():
        raise FileNotFoundError(f"--config {path}: no such file (a run folder's config.json, or a JSON file of "
                                "TrainConfig fields)")
    try:
        raw = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"--config {path} is not valid JSON: {err}") from err
    if not isinstance(raw, dict):
        raise ValueError(f"--config {path} must hold a JSON object of TrainConfig fields, got {type(raw).__name__}")
    try:
        return TrainConfig.from_dict(raw)
    except (TypeError, ValueError) as err:
        raise ValueError(f"--config {path}: {err} (the fields are the flags of `niljax train --help`, "
                         "nested ones as objects: {\"learner\": {\"batch_size\": 256}})") from err


def finished_checkpoints(run_dir: Path) -> list[int]:
    """Env-step counts of the checkpoints saved in `run_dir/checkpoints`, ascending ([] when there are none)."""
    folder = Path(run_dir) / "checkpoints"
    return sorted(int(d.name) for d in folder.iterdir() if d.is_dir() and d.name.isdigit()) if folder.is_dir() else []


def checkpoint_manager(run_dir: Path, keep: int) -> Any:
    """The orbax `CheckpointManager` of `run_dir/checkpoints` keeping the latest `keep` (synchronous saves)."""
    import orbax.checkpoint as ocp

    options = ocp.CheckpointManagerOptions(max_to_keep=keep, enable_async_checkpointing=False)
    return ocp.CheckpointManager((Path(run_dir) / "checkpoints").absolute(), options=options)


def load_run(run_dir: str | Path, reference: str | None = None, *, command: str = "niljax evaluate") -> TrainConfig:
    """The config of the finished (or interrupted) run at `run_dir`, checked as a command-line input.

    FileNotFoundError when the folder is missing, is not a run folder (no config.json), holds no checkpoint, or
    its reference bundle has moved (pass `reference`, its new place, which then replaces the recorded one);
    ValueError for a malformed config.json. `command` is the command named in the fix for a moved bundle.
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise FileNotFoundError(f"no run folder at {run}")
    if not (run / "config.json").is_file():
        raise FileNotFoundError(f"{run} is not a run folder (no config.json); pass the folder `niljax train` "
                                "printed as its run folder")
    config = load_config_file(str(run / "config.json"))
    if not finished_checkpoints(run):
        raise FileNotFoundError(
            f"{run} has no checkpoint to evaluate: the run never got past its start (or its checkpoints were "
            f"deleted). Train it with `niljax train --config {run / 'config.json'}`, or delete the folder")
    if reference is not None:
        return dataclasses.replace(config, reference=str(Path(reference).resolve()))
    if not Path(config.reference).is_dir():
        raise FileNotFoundError(
            f"the run's reference bundle {config.reference!r} (from {run / 'config.json'}) is not there any more "
            f"(moved or deleted); pass its new place: {command} {run} --reference PATH_TO_BUNDLE")
    return config
