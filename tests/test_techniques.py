"""The later records' techniques as knobs: each computes what it says, and each is nothing at its initial value."""

import dataclasses
import math

import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

from conftest import tg, tiny_model

SEEDS = st.integers(0, 10**6)


def tokens(seed, n=12, batch=2):
    return torch.randint(2, 64, (batch, n), generator=torch.Generator().manual_seed(seed))


@given(st.sampled_from([2, 4, 8, 16]), SEEDS)
def test_partial_rope_rotates_the_first_dims_and_leaves_the_rest_unchanged(dims, seed):
    x = torch.randn(2, 3, 10, 16, generator=torch.Generator().manual_seed(seed))
    cos, sin = tg.Rotary(dims, 10000.0, 10)(10, torch.float32)
    y = tg.apply_rotary(x, cos, sin)
    assert torch.equal(y[..., dims:], x[..., dims:])
    half = dims // 2  # each rotated pair (i, i + half) keeps its length
    assert torch.allclose(y[..., :half] ** 2 + y[..., half:dims] ** 2, x[..., :half] ** 2 + x[..., half:dims] ** 2, atol=1e-5)
    if dims == 16:
        full = tg.Rotary(16, 10000.0, 10)(10, torch.float32)
        assert torch.equal(y, tg.apply_rotary(x, *full))


@given(SEEDS)
def test_rope_dims_equal_to_the_head_size_is_the_full_rotary(seed):
    head = 32 // 2
    a, _ = tiny_model(seed % 50, ROPE_DIMS=head)
    b, _ = tiny_model(seed % 50, ROPE_DIMS=0)
    with torch.no_grad():
        assert torch.equal(a.logits(tokens(seed)), b.logits(tokens(seed)))


@given(st.floats(0.0, 1.0), SEEDS)
def test_the_mlp_squares_a_leaky_relu_and_slope_zero_is_relu_squared(slope, seed):
    model, cfg = tiny_model(seed % 50, MLP_LEAK=slope)
    mlp = model.body.stored_blocks()[0].mlp
    x = torch.randn(3, 32, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        h = F.linear(x, mlp.fc.effective_weight())
        expected = F.linear(torch.where(h > 0, h, slope * h).square(), mlp.proj.effective_weight())
        assert torch.allclose(mlp(x), expected, atol=1e-5)
        if slope == 0:
            assert torch.equal(mlp(x), F.linear(F.relu(h).square(), mlp.proj.effective_weight()))


@given(st.integers(1, 3), SEEDS)
def test_norm_scale_multiplies_both_norms_of_stored_block_i_by_one_over_sqrt_i_plus_one(layers, seed):
    model, _ = tiny_model(seed % 50, NUM_LAYERS=layers, LN_SCALE=1)
    for i, block in enumerate(model.body.stored_blocks()):
        x = torch.randn(2, 5, 32, generator=torch.Generator().manual_seed(seed + i))
        assert torch.allclose(block.norm(x), tg.rms_norm(x) / math.sqrt(i + 1))


@given(st.integers(1, 3), SEEDS)
def test_a_parallel_block_is_x_plus_attention_plus_mlp_of_the_same_normed_input(layers, seed):
    model, cfg = tiny_model(seed % 50, NUM_LAYERS=3, PARALLEL_LAYERS=layers)
    blocks = model.body.stored_blocks()
    assert [b.parallel for b in blocks] == [i >= 3 - layers for i in range(3)]
    block = blocks[-1]
    x, x0 = (torch.randn(2, 6, 32, generator=torch.Generator().manual_seed(seed + k)) for k in range(2))
    rope = model.rotary(6, torch.float32)
    with torch.no_grad():
        mixed = block.resid_mix[0] * x + block.resid_mix[1] * x0
        h = tg.rms_norm(mixed)
        expected = mixed + block.attn_scale * block.attn(h, rope) + block.mlp_scale * block.mlp(h)
        assert torch.allclose(block(x, x0, rope), expected, atol=1e-5)


@given(st.integers(1, 2), SEEDS)
def test_xsa_outputs_have_no_part_along_their_tokens_own_value(layers, seed):
    model, cfg = tiny_model(seed % 50, XSA_LAYERS=layers, NUM_HEADS=4, NUM_KV_HEADS=2)
    attn = model.body.stored_blocks()[-1].attn
    assert attn.xsa and model.body.stored_blocks()[0].attn.xsa == (layers == 2)
    captured = {}
    attn.proj.register_forward_hook(lambda m, a, o: captured.__setitem__("y", a[0]))
    attn.c_qkv.register_forward_hook(lambda m, a, o: captured.__setitem__("qkv", o))
    with torch.no_grad():
        attn(torch.randn(2, 7, 32, generator=torch.Generator().manual_seed(seed)), model.rotary(7, torch.float32))
    y = captured["y"].view(2, 7, 4, 8)
    v = captured["qkv"].split(attn.split, -1)[2].view(2, 7, 2, 8).repeat_interleave(2, dim=2)
    assert torch.allclose((y * F.normalize(v, dim=-1)).sum(-1), torch.zeros(2, 7, 4), atol=1e-5)


@given(SEEDS)
def test_the_attention_gate_and_the_smear_gate_at_their_initial_values_are_no_gate(seed):
    plain, _ = tiny_model(seed % 50, randomize=False)
    gated, cfg = tiny_model(seed % 50, randomize=False, ATTN_GATE=1, SMEAR_GATE=1)
    state = plain.state_dict()
    assert all(torch.equal(t, state[n]) for n, t in gated.state_dict().items() if n in state)
    assert {n for n in gated.state_dict()} - set(state) == {"smear"} | {f"body.shared.{i}.attn.gate" for i in range(cfg.num_layers)}
    x = tokens(seed)
    with torch.no_grad():
        for m in (plain, gated):  # non-zero weights everywhere but in the gates
            torch.manual_seed(seed)
            for name, p in m.named_parameters():
                if "gate" not in name and name != "smear":
                    p.copy_(torch.randn_like(p) * 0.2)
        assert torch.equal(plain.logits(x), gated.logits(x))


@given(SEEDS)
def test_the_smear_gate_adds_the_previous_tokens_embedding_except_into_a_bos(seed):
    model, cfg = tiny_model(seed % 50, SMEAR_GATE=1, NUM_LAYERS=1)
    with torch.no_grad():
        model.smear.copy_(torch.randn(model.smear.shape, generator=torch.Generator().manual_seed(seed)))
    idx = tokens(seed, n=9)
    idx[:, 4] = tg.BOS_ID
    seen = {}
    model.body.register_forward_pre_hook(lambda m, a: seen.__setitem__("x", a[0]))
    with torch.no_grad():
        model.logits(idx)
        e = model.tok_emb(idx)
        gate = torch.sigmoid(e[..., : tg.GATE_DIMS] @ model.smear[1:])
        expected = e.clone()
        for t in range(1, 9):
            keep = (idx[:, t] != tg.BOS_ID).float()[:, None]
            expected[:, t] += model.smear[0] * gate[:, t, None] * e[:, t - 1] * keep
        assert torch.allclose(seen["x"], tg.rms_norm(expected), atol=1e-5)
        assert torch.allclose(seen["x"][:, 4], tg.rms_norm(e[:, 4]), atol=1e-6)  # nothing crosses into a BOS


@given(st.sampled_from(["attn_gate", "smear_gate", "xsa", "parallel", "leak", "rope", "ln"]), SEEDS)
def test_every_technique_survives_the_artifact_and_needs_no_variable_to_reload(knob, seed):
    env = {"attn_gate": {"ATTN_GATE": 1}, "smear_gate": {"SMEAR_GATE": 1}, "xsa": {"XSA_LAYERS": 1},
           "parallel": {"PARALLEL_LAYERS": 1}, "leak": {"MLP_LEAK": 0.5}, "rope": {"ROPE_DIMS": 8}, "ln": {"LN_SCALE": 1}}[knob]
    model, cfg = tiny_model(seed % 50, LOOPS=2, UNET_SKIPS=1, EMBED_DIM=8, **env)
    packed = tg.encode_artifact(model, cfg, {"int": 8, "embed": 8, "side": 32})
    config, state = tg.decode_artifact(packed.blob)
    plain = tg.Hyperparameters.from_env(env={}, cuda=False)  # no technique variable set
    reloaded = tg.GPT(dataclasses.replace(plain, **config).validated())
    reloaded.load_state_dict(state)
    again = tg.GPT(cfg)  # the configuration that trained it, every variable set
    again.load_state_dict(state)
    idx = tokens(seed)
    with torch.no_grad():
        assert torch.equal(reloaded.logits(idx), again.logits(idx))
