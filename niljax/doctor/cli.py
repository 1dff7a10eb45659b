"""`niljax doctor [--require cpu|gpu|tpu] [--robot NAME] [--encoder-weights PATH_OR_ID] [--json]`."""

from __future__ import annotations

import argparse
import json

from niljax.doctor.checks import run
from niljax.doctor.probes import DEFAULT_ENCODER
from niljax.doctor.report import format_text

DESCRIPTION = """`niljax doctor`: can this machine run niljax, and on what? Each missing piece comes with its fix command.

    niljax doctor                          report (text); exit 0 unless the core cannot run here
    niljax doctor --require gpu            exit 1 unless jax sees a GPU (likewise cpu | tpu)
    niljax doctor --robot h1 --encoder-weights PATH_OR_ID   also require these (else they are only reported)
    niljax doctor --json                   the same report as JSON (`ok`, `problems` with `fix`, sections)"""


def doctor_main(argv: list[str] | None = None) -> int:
    """Print the report (text, or JSON with --json); exit code 0 unless a required piece is missing."""
    parser = argparse.ArgumentParser(
        prog="niljax doctor",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--require",
        choices=("cpu", "gpu", "tpu"),
        default=None,
        help="exit 1 unless jax sees a device of this kind",
    )
    parser.add_argument(
        "--robot",
        action="append",
        default=[],
        metavar="NAME",
        help="exit 1 unless this robot's MJCF resolves offline (repeatable)",
    )
    parser.add_argument(
        "--encoder-weights",
        default=None,
        metavar="PATH_OR_ID",
        help="TimeSformer weights to look for (folder, file or hub id); given: exit 1 when missing. "
        f"Default: $NILJAX_ENCODER_WEIGHTS, else {DEFAULT_ENCODER} in the HF cache",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = run(require=args.require, robots=args.robot, encoder_weights=args.encoder_weights)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        print(format_text(report))
    return 0 if report.ok else 1
