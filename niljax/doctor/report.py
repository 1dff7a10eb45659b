"""The doctor's report: sections of facts, problems with their fix, and its text form."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass
class Problem:
    what: str
    fix: str
    fatal: bool  # True: the requested setup cannot run (non-zero exit)


@dataclasses.dataclass
class Report:
    sections: dict[str, Any] = dataclasses.field(default_factory=dict)
    problems: list[Problem] = dataclasses.field(default_factory=list)

    def problem(self, what: str, fix: str, fatal: bool = False) -> None:
        self.problems.append(Problem(what, fix, fatal))

    @property
    def ok(self) -> bool:
        return not any(p.fatal for p in self.problems)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **self.sections, "problems": [dataclasses.asdict(p) for p in self.problems]}


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def _cache_line(cc: dict[str, Any]) -> str:
    if not cc.get("dir"):
        return "XLA compile cache: no folder could be resolved"
    state = f"{cc.get('entries', 0)} files, {cc.get('megabytes', 0)} MB" if cc.get("exists") else "not created yet"
    used = ", ".join(cc.get("used_by", ()))
    return f"{cc['dir']} ({state}; from {cc.get('source')}; on by default for {used})"


def format_text(report: Report) -> str:
    s = report.sections
    out = []
    py = s["python"]
    out.append(f"Python     {py['version']} ({py['executable']}){'' if py['supported'] else '  UNSUPPORTED'}")
    pk = s["packages"]
    shown = [f"{k} {v}" for k, v in pk.items() if v is not None]
    out.append("packages   " + ", ".join(shown))
    hw = s["hardware"]
    out.append(
        "hardware   "
        + (
            "; ".join(hw["gpus"]) + (f" (driver CUDA {hw['cuda_driver']})" if hw["cuda_driver"] else "")
            if hw["gpus"]
            else "no NVIDIA GPU"
        )
        + (f"; TPU {', '.join(hw['tpu_devices'])}" if hw["tpu"] else "")
    )
    jx = s["jax"]
    if jx.get("devices"):
        devs = ", ".join(
            f"{d['platform']}:{d['id']} {d['kind']}"
            + (f" {_gib(d['memory_bytes'])}" if "memory_bytes" in d else "")
            for d in jx["devices"]
        )
        out.append(f"jax        {jx['version']} backend {jx['backend']}: {devs}")
    else:
        out.append(f"jax        NOT USABLE: {jx.get('error', '')}")
    ph, rd = s["physics"], s["renderers"]
    out.append(
        "physics    " + ", ".join(f"mjx impl={k} {'yes' if v['usable'] else 'no'}" for k, v in ph.items())
    )
    out.append("renderers  " + ", ".join(f"{k} {'yes' if v['usable'] else 'no'}" for k, v in rd.items()))
    out.append(
        "robots     " + ", ".join(f"{k} {'yes' if v['found'] else 'MISSING'}" for k, v in s["robots"].items())
    )
    tw = s["weights"]["timesformer"]
    out.append(
        f"weights    TimeSformer {tw['source']}: "
        + (f"{tw['path']} ({tw['file']})" if tw["found"] else "not found")
        + (
            f"; also cached: {', '.join(s['weights']['other_in_hf_cache'])}"
            if s["weights"]["other_in_hf_cache"]
            else ""
        )
    )
    out.append("cache      " + _cache_line(s["compile_cache"]))
    if report.problems:
        out.append("")
        out.append("to fix:")
        for p in report.problems:
            out.append(f"  {'ERROR' if p.fatal else 'note '} {p.what}\n        -> {p.fix}")
    out.append("")
    req = f" for --require {s['require']}" if s.get("require") else ""
    out.append(f"doctor: {'OK' if report.ok else 'NOT OK'}{req}")
    return "\n".join(out)
