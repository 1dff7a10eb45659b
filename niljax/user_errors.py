"""Errors a user can cause, and how every `niljax` command reports them (one paragraph, exit code 2).

Below every command: `niljax.cli` and each stage's command module (`niljax.train.cli`, `niljax.reference.cli`,
...) import this module, never each other's, so the CLI imports the commands and nothing imports the CLI back.

- `set_debug(on)` / `debug_enabled()`: `niljax --debug ...` (or NILJAX_DEBUG=1) re-raises user errors so their
  traceback shows.
- `is_user_error(err)`: a bad flag value, a missing or malformed file, an unknown robot, a missing optional
  package: matched by class name along the MRO, so this module imports none of the packages that define them
  (`niljax --help` stays instant).
- `error_text(err)`: the one-paragraph message; `report_user_error(prog, err)` prints it (or re-raises under
  `--debug`) and returns the exit code 2.
"""

from __future__ import annotations

import os
import sys

USER_ERRORS = ("ValueError", "FileNotFoundError", "FileExistsError", "IsADirectoryError", "NotADirectoryError",
               "PermissionError", "RobotNotFoundError", "SkillNotFoundError", "MissingDependencyError",
               "WeightsNotFoundError", "UnicodeDecodeError")

_debug = False


def set_debug(on: bool) -> None:
    """Called by `niljax.cli.main` with whether `--debug` was given."""
    global _debug
    _debug = bool(on)


def debug_enabled() -> bool:
    """True under `niljax --debug ...` or NILJAX_DEBUG=1: commands re-raise user errors (traceback shown)."""
    return _debug or os.environ.get("NILJAX_DEBUG", "") not in ("", "0")


def is_user_error(err: BaseException) -> bool:
    """Whether `err` is one a user causes (see `USER_ERRORS`), shown as a message rather than a traceback."""
    return any(cls.__name__ in USER_ERRORS for cls in type(err).__mro__)


def error_text(err: BaseException) -> str:
    """The message of `err`, unquoted (KeyError subclasses such as RobotNotFoundError quote it) and at most
    4000 characters."""
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    text = text.strip() or type(err).__name__
    return text if len(text) <= 4000 else text[:4000] + " ..."


def report_user_error(prog: str, err: BaseException, *, hint: bool = False) -> int:
    """Print `<prog>: error: <message>` to stderr and return 2; re-raise `err` under `--debug`. With `hint`, a
    second line says how to see the traceback."""
    if debug_enabled():
        raise err
    more = "\n(run again with --debug for the traceback)" if hint else ""
    print(f"{prog}: error: {error_text(err)}{more}", file=sys.stderr)
    return 2
