"""The `niljax` command.

    niljax demo                      the embedded CPU demo (A1 learns to walk from its shipped mocap; --robot toy_arm)
    niljax train --robot h1 --reference bundle/ [overrides]
    niljax evaluate RUN_DIR          evaluate a run's latest checkpoint and write a side-by-side video
    niljax plan [train flags]        memory and FLOPs of a training config, before compiling; does it fit
    niljax reference ...             Stage 1: build a reference bundle (see `niljax reference --help`)
    niljax score VIDEO_OR_RUN --reference BUNDLE   per-step reward terms (JSON + PNG of the curves)
    niljax landscape BUNDLE          reward of the reference motion vs shifted/re-timed/standing/random motions
    niljax robots [--online]         list registered robots and whether their assets resolve here (offline)
    niljax skills                    list registered skills (sitting, hanging, balancing, walking, yours)
    niljax contact-sheet ...         render a batch of frames + masks to a PNG (what the encoder sees)
    niljax table RUNS... --out DIR   results table of finished runs next to the paper's numbers
    niljax weights [HUB_ID|FOLDER]   fetch or check TimeSformer weights, cached once as safetensors (no torch)
    niljax doctor [--require gpu]    what runs here: versions, devices, renderers, assets, weights, fixes
    niljax export RUN [--format onnx] the trained policy as npz / ONNX + policy.json (docs/deploy.md)
    niljax play RUN [--viewer]       the exported policy in C MuJoCo: mp4 + protocol score
    niljax sim2sim RUN [--robustness]  MJX vs C MuJoCo: divergence, scores, perturbation table

Each subcommand parses its own arguments (typed configs via tyro), so `niljax SUB --help` documents it.
Heavy imports happen inside the subcommand: `niljax --help` is instant and never imports torch.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from niljax import _runtime, user_errors

_runtime.configure()


def _demo(argv: list[str]) -> int:
    from niljax.train.demo import demo_main

    return demo_main(argv)


def _train(argv: list[str]) -> int:
    from niljax.train.cli import train_main

    return train_main(argv)


def _evaluate(argv: list[str]) -> int:
    from niljax.train.cli import evaluate_main

    return evaluate_main(argv)


def _plan(argv: list[str]) -> int:
    from niljax.train.cli import plan_main

    return plan_main(argv)


def _reference(argv: list[str]) -> int:
    from niljax.reference.cli import reference_main

    return reference_main(argv)


_ROBOTS_USAGE = """usage: niljax robots [--online]

List registered robots and where their assets resolve on this machine, without the network:
a robot whose model only the mujoco-menagerie downloader would fetch shows as 'online; not checked'.

  --online  also try the menagerie downloader (network; about 15 s when there is none)"""


def _score(argv: list[str]) -> int:
    from niljax.diagnostics.cli import score_main

    return score_main(argv)


def _landscape(argv: list[str]) -> int:
    from niljax.diagnostics.cli import landscape_main

    return landscape_main(argv)


def _robots(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(_ROBOTS_USAGE)
        return 0
    unknown = [a for a in argv if a != "--online"]
    if unknown:
        print(f"niljax robots: error: unknown argument {unknown[0]!r} (usage: niljax robots [--online])",
              file=sys.stderr)
        return 2
    online = "--online" in argv
    from niljax.robots import AssetNotFoundError, get_spec, list_robots, resolve_asset
    from niljax.robots.assets import menagerie_offline

    for name in list_robots():
        spec = get_spec(name)
        try:
            path, source = resolve_asset(spec, online=online)
            where = f"{source}: {path}"
        except AssetNotFoundError as err:
            remote = [] if online else [s for s in spec.sources
                                        if s.kind == "menagerie" and not menagerie_offline(s)[0]]
            tried = [ln.strip()[2:] for ln in str(err).splitlines() if ln.startswith("  - ")]
            if remote:
                where = f"{remote[0].describe()} (online; not checked: `niljax robots --online` tries it)"
            else:
                where = f"not available here ({'; '.join(tried) or str(err).splitlines()[0]})"
        print(f"{name:<10} {spec.description}\n{'':<10} {where}")
    return 0


_SKILLS_USAGE = """usage: niljax skills

List registered skills (skills/<name>.toml, or $NILJAX_SKILLS_DIR): task kind, success duration, scene
objects and the Stage-1 prompt. Use one with `niljax reference --skill NAME` and `niljax train --skill NAME`
(`--reward task` for the task-reward RL upper bound). Format: docs/skills.md."""


def _skills(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(_SKILLS_USAGE)
        return 0
    if argv:
        print(f"niljax skills: error: unknown argument {argv[0]!r} (usage: niljax skills)", file=sys.stderr)
        return 2
    from niljax.robots.skills import get_skill, list_skills

    for name in list_skills():
        skill = get_skill(name)
        objects = ", ".join(o["name"] for o in skill.objects) or "none"
        print(f"{name:<10} {skill.description}\n{'':<10} task {skill.task['kind']} for >= "
              f"{float(skill.task['min_duration_s']):g} s; objects: {objects}; keyframes: {len(skill.keyframes)}\n"
              f"{'':<10} prompt: {skill.prompt}")
    return 0


def _contact_sheet(argv: list[str]) -> int:
    from niljax.render.contact_sheet import main as contact_sheet_main

    return int(contact_sheet_main(argv) or 0)


def _table(argv: list[str]) -> int:
    from niljax.train.table import table_main

    return table_main(argv)


def _weights(argv: list[str]) -> int:
    from niljax.encoders.weights_cli import weights_main

    return weights_main(argv)


def _doctor(argv: list[str]) -> int:
    from niljax.doctor import doctor_main

    return doctor_main(argv)


def _rehearse(argv: list[str]) -> int:
    from niljax.train.rehearse import rehearse_main

    return rehearse_main(argv)


def _export(argv: list[str]) -> int:
    from niljax.deploy.cli import export_main

    return export_main(argv)


def _play(argv: list[str]) -> int:
    from niljax.deploy.cli import play_main

    return play_main(argv)


def _sim2sim(argv: list[str]) -> int:
    from niljax.deploy.cli import sim2sim_main

    return sim2sim_main(argv)


COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "demo": (_demo, "embedded CPU demo: A1 learns to walk from its shipped mocap (--robot toy_arm: smoke test)"),
    "train": (_train, "Stage 2: train a policy on a reference bundle"),
    "evaluate": (_evaluate, "evaluate a run's checkpoint; writes metrics and a side-by-side video"),
    "plan": (_plan, "memory per component and FLOPs per iteration of a training config; whether it fits"),
    "reference": (_reference, "Stage 1: prepare a reference bundle"),
    "score": (_score, "per-step reward terms of a video or a run's rollout against a bundle (JSON + PNG)"),
    "landscape": (_landscape, "reward of a replayed reference vs shifted, re-timed, standing, random motions"),
    "robots": (_robots, "list registered robots and where their assets resolve"),
    "skills": (_skills, "list registered skills: task, success duration, scene objects, prompt"),
    "contact-sheet": (_contact_sheet, "render frames + masks of a robot to a PNG"),
    "table": (_table, "results table of finished runs (mean ± std over seeds) next to the paper's numbers"),
    "weights": (_weights, "fetch (online) or check (local) TimeSformer weights; convert once to cached safetensors"),
    "doctor": (_doctor, "check this machine: versions, devices, physics/renderers, assets, weights (--json)"),
    "rehearse": (_rehearse, "dress rehearsal of a GPU tier at reduced size: every step a GPU user runs, here"),
    "export": (_export, "a run's policy as a standalone npz / ONNX file + policy.json (obs layout, PD, rate)"),
    "play": (_play, "the exported policy in C MuJoCo from the protocol's start: mp4 + protocol score"),
    "sim2sim": (_sim2sim, "MJX vs C MuJoCo from the same state: divergence, both scores, robustness table"),
}


def _usage() -> str:
    lines = ["usage: niljax COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<14} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "`niljax COMMAND --help` shows a command's options; `--debug` shows the traceback of an error."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # `--debug` anywhere: user errors show their traceback instead of the one-paragraph message
    user_errors.set_debug("--debug" in args)
    debug = user_errors.debug_enabled()
    args = [a for a in args if a != "--debug"]
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if args[0] in ("-V", "--version"):
        from niljax import __version__

        print(__version__)
        return 0
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"niljax: unknown command {args[0]!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    try:
        return command[0](args[1:])
    except BrokenPipeError:  # `niljax train --help | head`: the reader left; no traceback for that
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as err:
        if debug or not user_errors.is_user_error(err):
            raise
        return user_errors.report_user_error(f"niljax {args[0]}", err, hint=True)


if __name__ == "__main__":
    sys.exit(main())
