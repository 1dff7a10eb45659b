"""niljax.encoders.cpu_bf16: the guard against XLA:CPU's bfloat16 abort (issue 32).

The reproducer runs in a child process (an abort there cannot take this worker down) and the guard must agree
with it: on jaxlib 0.12.1 on a CPU without AVX-512 both report the LLVM error; on the locked versions both are
clear. The message and the decisions that need no probe are checked with the probe replaced.
"""

from __future__ import annotations

import jaxlib
import pytest

from niljax.encoders import cpu_bf16


def test_guard_agrees_with_the_reproducer() -> None:
    failure = cpu_bf16.probe_cpu_bf16()
    problem = cpu_bf16.cpu_bf16_problem("cpu")
    if failure is None:
        assert problem is None
    else:  # a jaxlib that aborts on this processor: the guard must say so, and name the fix
        assert problem is not None and "float32" in problem, (failure, problem)
    # The versions the locks install compile it on every processor they were tried on.
    if cpu_bf16._release(jaxlib.__version__) < cpu_bf16.FIRST_BAD_JAXLIB:
        assert failure is None, f"jaxlib {jaxlib.__version__} failed the bfloat16 reproducer: {failure}"


@pytest.fixture
def fake_llvm_abort(monkeypatch):
    """jaxlib 0.12.1 with a probe that reports the LLVM error (no child process)."""
    monkeypatch.setattr(jaxlib, "__version__", "0.12.1")
    monkeypatch.setattr(cpu_bf16.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(cpu_bf16, "probe_cpu_bf16",
                        lambda: "LLVM ERROR: Cannot select: v8bf16 = X86ISD::VBROADCAST")
    cpu_bf16._problem.cache_clear()
    yield
    cpu_bf16._problem.cache_clear()


def test_require_raises_a_user_error_naming_the_fixes(fake_llvm_abort) -> None:
    with pytest.raises(cpu_bf16.Bfloat16UnsupportedError) as info:
        cpu_bf16.require_cpu_bf16("TimeSformer embedding", backend="cpu")
    assert isinstance(info.value, ValueError)  # the CLI prints ValueErrors as one paragraph, exit 2
    text = str(info.value)
    for needed in ("TimeSformer embedding", "jaxlib 0.12.1", "X86ISD::VBROADCAST", "'float32'", "jaxlib==0.12.0.1"):
        assert needed in text, (needed, text)


def test_no_probe_where_bfloat16_is_known_to_compile(fake_llvm_abort, monkeypatch) -> None:
    assert cpu_bf16.cpu_bf16_problem("gpu") is None and cpu_bf16.cpu_bf16_problem("tpu") is None
    monkeypatch.setattr(cpu_bf16.platform, "machine", lambda: "aarch64")  # the fault is in LLVM's x86 backend
    assert cpu_bf16.cpu_bf16_problem("cpu") is None
    monkeypatch.setattr(cpu_bf16.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(jaxlib, "__version__", "0.12.0.1")
    assert cpu_bf16.cpu_bf16_problem("cpu") is None
    monkeypatch.setattr(jaxlib, "__version__", "0.12.1")
    assert cpu_bf16.cpu_bf16_problem("cpu") is not None
