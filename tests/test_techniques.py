"""The later records' techniques that our ternary runs did not harm, as knobs: each computes what it says, and each is
nothing at its initial value."""

import dataclasses

import torch
from hypothesis import given, strategies as st

from conftest import tg, tiny_model

SEEDS = st.integers(0, 10**6)


def tokens(seed, n=12, batch=2):
    return torch.randint(2, 64, (batch, n), generator=torch.Generator().manual_seed(seed))


@given(st.integers(1, 3), SEEDS)
def test_a_parallel_block_is_x_plus_attention_plus_mlp_of_the_same_normed_input(layers, seed):
    model, cfg = tiny_model(seed % 50, NUM_LAYERS=3, PARALLEL_LAYERS=layers)
    blocks = model.body.stored_blocks()
    assert [b.parallel for b in blocks] == [i >= 3 - layers for i in range(3)]
    block = blocks[-1]
    x, x0 = (torch.randn(2, 6, 32, generator=torch.Generator().manual_seed(seed + k)) for k in range(2))
    rope = model.rope(6)
    with torch.no_grad():
        mixed = block.resid_mix[0] * x + block.resid_mix[1] * x0
        h = tg.rms_norm(mixed)
        expected = mixed + block.attn_scale * block.attn(h, rope) + block.mlp_scale * block.mlp(h)
        assert torch.allclose(block(x, x0, rope), expected, atol=1e-5)


@given(SEEDS)
def test_the_smear_gate_at_its_initial_value_is_no_gate(seed):
    plain, _ = tiny_model(seed % 50, randomize=False)
    gated, cfg = tiny_model(seed % 50, randomize=False, SMEAR_GATE=1)
    state = plain.state_dict()
    assert all(torch.equal(t, state[n]) for n, t in gated.state_dict().items() if n in state)
    assert {n for n in gated.state_dict()} - set(state) == {"smear"}
    x = tokens(seed)
    with torch.no_grad():
        for m in (plain, gated):  # non-zero weights everywhere but in the gates
            torch.manual_seed(seed)
            for name, p in m.named_parameters():
                if name != "smear":
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


@given(st.sampled_from(["smear_gate", "parallel"]), SEEDS)
def test_every_technique_survives_the_artifact_and_needs_no_variable_to_reload(knob, seed):
    env = {"smear_gate": {"SMEAR_GATE": 1}, "parallel": {"PARALLEL_LAYERS": 1}}[knob]
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
