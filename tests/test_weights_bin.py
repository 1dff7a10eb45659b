"""Weights as the hub serves them (issue 26, item 3): `pytorch_model.bin` read without torch equals torch's own
reading, a `model.safetensors` folder loads, and `niljax weights` converts a local folder once to a cached copy.

torch only writes the test files (and reads them for the comparison); niljax's reader never imports it."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from niljax.encoders.params import CheckpointError, load_timesformer, read_weights_file
from niljax.encoders.timesformer import TimesformerConfig, init_params
from niljax.encoders.torch_pickle import read_torch_zip

torch = pytest.importorskip("torch", reason="torch writes the test-made pytorch_model.bin")

TINY = TimesformerConfig.tiny(num_frames=2)


def _hf_state_dict() -> dict[str, np.ndarray]:
    from niljax.encoders.params import to_hf_state_dict

    return {f"timesformer.{k}": v for k, v in to_hf_state_dict(init_params(TINY, 0), TINY).items()}


def _hf_config(folder) -> None:  # noqa: ANN001
    (folder / "config.json").write_text(json.dumps({
        "model_type": "timesformer", "image_size": TINY.image_size, "patch_size": TINY.patch_size,
        "num_channels": 3, "num_frames": TINY.num_frames, "hidden_size": TINY.hidden_size,
        "num_hidden_layers": TINY.num_hidden_layers, "num_attention_heads": TINY.num_attention_heads,
        "intermediate_size": TINY.intermediate_size, "hidden_act": "gelu", "layer_norm_eps": TINY.layer_norm_eps,
        "qkv_bias": True, "attention_type": TINY.attention_type}))


def test_bin_without_torch_equals_torch(tmp_path) -> None:
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    tensors = {
        "f32": torch.randn(3, 5, generator=torch.Generator().manual_seed(0)),
        "bf16": torch.randn(7, generator=torch.Generator().manual_seed(1)).to(torch.bfloat16),
        "f16": torch.linspace(-2, 2, 9).to(torch.float16),
        "i64": torch.arange(5),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5),
        "transposed": base.t(),  # a non-contiguous view ...
        "row": base[2],  # ... and an offset view, both sharing base's storage
        "base": base,
        "param": torch.nn.Parameter(torch.ones(2, 2)),
    }
    path = tmp_path / "pytorch_model.bin"
    torch.save(tensors, path)
    ours = read_torch_zip(path)
    theirs = torch.load(path, map_location="cpu", weights_only=True)
    assert set(ours) == set(theirs)
    for k, t in theirs.items():
        want = t.detach().float().numpy() if t.dtype == torch.bfloat16 else t.detach().numpy()
        got = ours[k].astype(np.float32) if t.dtype == torch.bfloat16 else ours[k]
        assert got.shape == tuple(t.shape), k
        assert ours[k].dtype.name == str(t.dtype).removeprefix("torch."), k
        np.testing.assert_array_equal(got, want, err_msg=k)
    assert ours["bf16"].dtype.name == "bfloat16"
    # the whole read happens without torch: run it in a process where importing torch fails
    code = ("import sys; sys.modules['torch'] = None\n"
            "from niljax.encoders.torch_pickle import read_torch_zip\n"
            f"d = read_torch_zip({str(path)!r}); print(sorted(d), float(d['f32'].sum()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[-1] and abs(float(out.split()[-1]) - float(theirs["f32"].sum())) < 1e-5


def test_bin_reader_refuses_code_and_legacy_files(tmp_path) -> None:
    # a pickle that would call os.system on load, inside a well-formed torch zip
    evil = tmp_path / "evil.bin"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("archive/data.pkl", b"cos\nsystem\n(S'echo pwned'\ntR.")
    with pytest.raises(CheckpointError, match="os.system"):
        read_weights_file(evil)
    legacy = tmp_path / "legacy.bin"
    legacy.write_bytes(pickle.dumps({"w": [1.0]}))
    with pytest.raises(ValueError, match="legacy"):
        read_torch_zip(legacy)


@pytest.fixture(scope="module")
def hub_folders(tmp_path_factory):
    """A test-made HF folder with pytorch_model.bin and one with model.safetensors (the hub's two formats)."""
    from safetensors.numpy import save_file

    state = _hf_state_dict()
    bin_dir = tmp_path_factory.mktemp("bin_model")
    torch.save({k: torch.from_numpy(v.copy()) for k, v in state.items()}, bin_dir / "pytorch_model.bin")
    _hf_config(bin_dir)
    st_dir = tmp_path_factory.mktemp("st_model")
    save_file(state, str(st_dir / "model.safetensors"))
    _hf_config(st_dir)
    return state, bin_dir, st_dir


def test_both_hub_formats_load_to_the_same_params(hub_folders) -> None:
    import jax

    _, bin_dir, st_dir = hub_folders
    cfg_b, params_b = load_timesformer(bin_dir)
    cfg_s, params_s = load_timesformer(st_dir)
    assert cfg_b == cfg_s
    want = init_params(TINY, 0)
    for a, b, c in zip(jax.tree.leaves(params_b), jax.tree.leaves(params_s), jax.tree.leaves(want)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        np.testing.assert_allclose(np.asarray(a), np.asarray(c), rtol=0, atol=0)


def test_weights_command_converts_once(hub_folders, tmp_path) -> None:
    from niljax.cli import main
    from niljax.encoders.weights_cli import CONVERTED_NAME, STAMP_NAME, converted_folder

    _, bin_dir, _ = hub_folders
    cache = tmp_path / "cache"
    assert main(["weights", str(bin_dir), "--cache-dir", str(cache)]) == 0
    out = converted_folder(str(bin_dir), cache)
    stamp = json.loads((out / STAMP_NAME).read_text())
    assert stamp["read_from"].endswith("pytorch_model.bin") and stamp["tensors"] > 10
    mtime = (out / CONVERTED_NAME).stat().st_mtime_ns
    assert main(["weights", str(bin_dir), "--cache-dir", str(cache)]) == 0  # checked, not rewritten
    assert (out / CONVERTED_NAME).stat().st_mtime_ns == mtime
    _, params = load_timesformer(out)  # the converted folder is a plain safetensors folder
    assert params["layers"]["attention"]["qkv"]["kernel"].shape[0] == TINY.num_hidden_layers


def test_weights_command_errors_are_one_paragraph(tmp_path, capsys) -> None:
    from niljax.cli import main

    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["weights", str(empty), "--cache-dir", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "weights not found" in err and "pytorch_model.bin" in err
