"""Diffusers image-to-video adapter on tiny random pipelines built here (no download), and SAM2 plumbing."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

from niljax.reference.generate import DiffusersI2VGenerator, VideoCandidate, format_prompt  # noqa: E402


def _first_frame(h: int = 32, w: int = 32) -> np.ndarray:
    img = np.full((h, w, 3), 230, np.uint8)
    img[h // 4: 3 * h // 4, w // 3: 2 * w // 3] = (40, 60, 200)
    return img


def tiny_svd(seed: int = 0):
    """Tiny random StableVideoDiffusionPipeline (sizes as in diffusers' own fast tests)."""
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    unet = diffusers.UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64), layers_per_block=2, sample_size=32, in_channels=8, out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=32, num_attention_heads=8, projection_class_embeddings_input_dim=96,
        addition_time_embed_dim=32,
    )
    scheduler = diffusers.EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", interpolation_type="linear",
        num_train_timesteps=1000, prediction_type="v_prediction", sigma_max=700.0, sigma_min=0.002,
        steps_offset=1, timestep_spacing="leading", timestep_type="continuous", use_karras_sigmas=True,
    )
    vae = diffusers.AutoencoderKLTemporalDecoder(
        block_out_channels=[32, 64], in_channels=3, out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"], latent_channels=4,
    )
    enc = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=32, projection_dim=32, num_hidden_layers=2, num_attention_heads=4, image_size=224,
        intermediate_size=37, patch_size=32,  # SVD always resizes PIL inputs to 224 for CLIP
    ))
    fe = CLIPImageProcessor(crop_size=224, size=224)
    pipe = diffusers.StableVideoDiffusionPipeline(vae=vae, image_encoder=enc, unet=unet, scheduler=scheduler,
                                                  feature_extractor=fe)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_tokenizer():
    """A word-level fast tokenizer built in memory (stands in for T5's, which would need a download)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "</s>", "<unk>", "the", "agent", "is", "walking", "camera", "follows", "h1", "robot"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def tiny_wan():
    """Tiny random WanImageToVideoPipeline (Wan 2.1 I2V layout with a CLIP image encoder)."""
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection, T5Config, \
        T5EncoderModel

    torch.manual_seed(0)
    vae = diffusers.AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                                     temperal_downsample=[False, True, True])
    scheduler = diffusers.FlowMatchEulerDiscreteScheduler(shift=7.0)
    text_encoder = T5EncoderModel(T5Config(vocab_size=16, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                                           relative_attention_num_buckets=8))
    transformer = diffusers.WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=36, out_channels=16,
        text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=32, image_dim=4,
    )
    enc = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=4, projection_dim=4, num_hidden_layers=2, num_attention_heads=2, image_size=32,
        intermediate_size=16, patch_size=1,
    ))
    pipe = diffusers.WanImageToVideoPipeline(
        tokenizer=tiny_tokenizer(), text_encoder=text_encoder, vae=vae, scheduler=scheduler,
        image_processor=CLIPImageProcessor(crop_size=32, size=32), image_encoder=enc, transformer=transformer,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_ltx():
    """Tiny random LTXImageToVideoPipeline (sizes as in diffusers' own fast tests, T5 built from a config)."""
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    transformer = diffusers.LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4, attention_head_dim=8,
        cross_attention_dim=32, num_layers=1, caption_channels=32,
    )
    vae = diffusers.AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False), upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1), timestep_conditioning=False, patch_size=1, patch_size_t=1,
        encoder_causal=True, decoder_causal=False,
    )
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    text_encoder = T5EncoderModel(T5Config(vocab_size=16, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                                           relative_attention_num_buckets=8))
    pipe = diffusers.LTXImageToVideoPipeline(scheduler=diffusers.FlowMatchEulerDiscreteScheduler(), vae=vae,
                                             text_encoder=text_encoder, tokenizer=tiny_tokenizer(),
                                             transformer=transformer)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _spy_prompt(pipe) -> dict:
    seen: dict = {}
    original = pipe.encode_prompt

    def spy(*args, **kwargs):
        seen["prompt"] = kwargs.get("prompt", args[0] if args else None)
        return original(*args, **kwargs)

    pipe.encode_prompt = spy
    return seen


PROMPT = format_prompt("The {robot} agent is {skill}, camera follows the agent.", robot="h1", skill="walking")


def test_ltx_adapter_passes_prompt_and_frame_rate():
    pipe = tiny_ltx()
    seen = _spy_prompt(pipe)
    gen = DiffusersI2VGenerator(pipe, num_frames=9, num_inference_steps=2, height=32, width=32, guidance_scale=3.0,
                                extra_kwargs=dict(max_sequence_length=16), fps=25.0)
    kwargs = gen._call_kwargs(_first_frame(), PROMPT, seed=0)
    assert kwargs["frame_rate"] == 25.0 and kwargs["prompt"] == PROMPT and kwargs["output_type"] == "np"
    out = gen.generate(_first_frame(), PROMPT, n=1)
    assert seen["prompt"] == PROMPT == "The h1 agent is walking, camera follows the agent."
    assert out[0].frames.shape == (9, 32, 32, 3) and out[0].frames.dtype == np.uint8
    assert out[0].fps == 25.0 and out[0].metadata["pipeline"] == "LTXImageToVideoPipeline"
    assert out[0].frames.std() > 0  # a decoded video, not a constant fill


def test_svd_adapter_output_format():
    gen = DiffusersI2VGenerator(tiny_svd(), num_frames=3, num_inference_steps=2, height=32, width=32, seed=3)
    assert gen.kind == "svd" and gen.output_fps == 7.0
    out = gen.generate(_first_frame(), "ignored by SVD", n=2)
    assert len(out) == 2
    for i, cand in enumerate(out):
        assert isinstance(cand, VideoCandidate)
        assert cand.frames.shape == (3, 32, 32, 3) and cand.frames.dtype == np.uint8
        assert cand.fps == 7.0 and cand.metadata["seed"] == 3 + i
    # different seeds -> different videos; same seed -> same video
    assert not np.array_equal(out[0].frames, out[1].frames)
    again = gen.generate(_first_frame(), "", n=1)[0]
    np.testing.assert_array_equal(again.frames, out[0].frames)


def test_wan_adapter_passes_prompt_and_returns_frames():
    pytest.importorskip("ftfy", reason="diffusers' Wan pipelines need ftfy for prompt cleaning")
    pipe = tiny_wan()
    seen = _spy_prompt(pipe)
    prompt = PROMPT
    gen = DiffusersI2VGenerator(pipe, num_frames=5, num_inference_steps=1, height=32, width=32, guidance_scale=1.0,
                                extra_kwargs=dict(max_sequence_length=16), fps=16.0)
    out = gen.generate(_first_frame(), prompt, n=1)
    assert seen["prompt"] == prompt == "The h1 agent is walking, camera follows the agent."
    assert out[0].frames.shape == (5, 32, 32, 3) and out[0].frames.dtype == np.uint8
    assert out[0].metadata["pipeline"] == "WanImageToVideoPipeline" and out[0].fps == 16.0


def test_unsupported_pipeline_is_rejected():
    from niljax.reference.errors import ReferencePreparationError

    class NotAPipeline:
        pass

    with pytest.raises(ReferencePreparationError, match="unsupported diffusers pipeline NotAPipeline"):
        DiffusersI2VGenerator(NotAPipeline())
    with pytest.raises(ReferencePreparationError, match="unknown placeholder"):
        format_prompt("The {robbot} agent", robot="h1", skill="walking")


def test_model_comparison_with_two_tiny_pipelines(tmp_path, capsys):
    """`niljax reference --backend diffusers --model A --model B`: one contact sheet (rows = models), one table."""
    import json

    from PIL import Image

    from niljax.cli import main

    models = []
    for seed in (0, 1):
        folder = tmp_path / f"svd{seed}"
        tiny_svd(seed).save_pretrained(folder)
        models += ["--model", str(folder)]
    out = tmp_path / "cmp"
    code = main(["reference", "--backend", "diffusers", *models, "--pipeline-kind", "svd", "--robot", "toy_arm",
                 "--height", "32", "--width", "32", "--num-candidates", "2", "--num-frames", "4",
                 "--num-inference-steps", "2", "--out", str(out), "--no-progress"])
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    data = json.loads((out / "comparison" / "comparison.json").read_text())
    rows = data["rows"]
    assert [r["model"] for r in rows] == [str(tmp_path / "svd0"), str(tmp_path / "svd1")]
    for r in rows:
        assert r["kind"] == "svd" and r["num_candidates"] == 2 and r["num_frames"] == 4 and 0 <= r["chosen"] < 2
        assert r["flow_variance"] >= 0 and 0 < r["first_frame_mse"] < 1 and 0 <= r["mask_iou_stability"] <= 1
    assert rows[0]["first_frame_mse"] != rows[1]["first_frame_mse"]  # two different random models
    assert all(len(v) == 2 for v in data["selection"].values())
    table = (out / "comparison" / "table.md").read_text()
    assert table.count("\n") == 4 and "mask IoU stability" in table and table.splitlines()[0] in printed
    sheet = Image.open(out / "comparison" / "contact_sheet.png")
    assert sheet.height > 2 * 128 and sheet.width > 5 * 128  # two model rows: our first frame + 4 frames
    assert not (out / "bundle").exists()  # a comparison builds no bundle
    assert main(["reference", "--backend", "diffusers", *models, "--pipeline-kind", "svd", "--pipeline-kind", "wan",
                 "--pipeline-kind", "ltx", "--robot", "toy_arm", "--out", str(tmp_path / "bad")]) == 2
    assert "once per --model" in capsys.readouterr().err
