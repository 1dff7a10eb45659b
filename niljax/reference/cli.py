"""`niljax reference ...`: command-line front end of `prepare_reference` (flags from `ReferenceConfig` via tyro).

`reference_main(argv) -> int` returns 0 on success, 2 on bad input (a `ReferencePreparationError`, missing file,
existing bundle), printing one clear line; `run_reference(config) -> Path` is the same without the exit codes.
"""

from __future__ import annotations

from pathlib import Path

from niljax.reference.compare import compare_references
from niljax.reference.config import ReferenceConfig
from niljax.reference.pipeline import prepare_reference


def run_reference(config: ReferenceConfig) -> Path:
    """Run Stage 1 with `config`; returns the bundle path (with several --model: the comparison folder)."""
    if config.is_comparison:
        return compare_references(config)
    return prepare_reference(config)


def reference_main(argv: list[str] | None = None) -> int:
    """Parse flags (`--help` lists them), run Stage 1, print where the bundle and report are."""
    import tyro

    from niljax.reference.errors import MissingDependencyError, ReferencePreparationError

    config = tyro.cli(ReferenceConfig, args=argv, prog="niljax reference",
                      description="Stage 1: prepare a NIL reference bundle (first frame, video, masks, embeddings).")
    try:
        bundle = run_reference(config)
    except (ReferencePreparationError, MissingDependencyError, FileExistsError, FileNotFoundError) as err:
        from niljax.user_errors import report_user_error

        return report_user_error("niljax reference", err)
    out = Path(config.out)
    if config.is_comparison:
        print(f"comparison: {bundle / 'contact_sheet.png'}\ntable: {bundle / 'table.md'}\n"
              f"{(bundle / 'table.md').read_text()}(pick one and build the bundle with --model THAT_ONE)")
        return 0
    print(f"bundle: {bundle}\nreport: {out / 'report' / 'contact_sheet.png'}\nsummary: {out / 'report' / 'summary.json'}")
    print((out / "report" / "summary.json").exists() and _table(out) or "")
    return 0


def _table(out: Path) -> str:
    import json

    return json.loads((out / "report" / "summary.json").read_text()).get("selection_table", "")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(reference_main())
