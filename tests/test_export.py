import pytest
import torch
from hypothesis import given, strategies as st

from conftest import tg, tiny_model


def bits(int_bits=6, embed_bits=8, side=16):
    return {"int": int_bits, "embed": embed_bits, "side": side}


def roundtrip(model, cfg, int_bits=6, embed_bits=8, side=16):
    packed = tg.encode_artifact(model, cfg, bits(int_bits, embed_bits, side))
    config, state = tg.decode_artifact(packed.blob)
    return packed.blob, packed, config, state


def quantized_reference(model, int_bits, embed_bits, side=16):
    """What each tensor should be after export: ternary as trained, integers as quantized."""
    ref = {}
    for name, t, enc, meta, _ in tg.tensor_plan(model, bits(int_bits, embed_bits, side)):
        if enc == "ternary":
            trits, s = tg.ternary_quantize(t, meta["group"], meta["scale"])
            ref[name] = (trits * s).reshape(t.shape)
        elif enc == "int":
            q, s = tg.quantize_int_rows(t, meta["bits"])
            ref[name] = (q * s).reshape(t.shape)
        else:
            ref[name] = t.to(torch.float16 if enc == "fp16" else torch.float32).float()
    return ref


@given(st.sampled_from(["attn,mlp", "none", "attn"]), st.integers(2, 8), st.integers(2, 8), st.sampled_from([16, 32]), st.integers(0, 100))
def test_artifact_roundtrip_reproduces_the_quantized_weights_exactly(ternary, int_bits, embed_bits, side, seed):
    model, cfg = tiny_model(seed, TERNARY_LAYERS=ternary, TERNARY_GROUP=16 if seed % 2 else 0,
                            EMBED_DIM=8 if seed % 3 else 0, UNET_SKIPS=int(seed % 4 < 2))
    _, packed, config, state = roundtrip(model, cfg, int_bits, embed_bits, side)
    ref = quantized_reference(model, int_bits, embed_bits, side)
    assert config == cfg.model_config() and state.keys() == ref.keys()
    for name in ref:
        assert torch.equal(state[name], ref[name]), name
        assert torch.equal(packed.state()[name], ref[name]), name
    plan = tg.tensor_plan(model, bits(int_bits, embed_bits, side))
    assert all(meta["bits"] == embed_bits for name, _, _, meta, _ in plan if name.startswith(("tok_emb", "embed_in", "embed_out")))
    assert all(enc == f"fp{side}" for _, _, enc, _, group in plan if group == "side")


@given(st.integers(2, 8), st.integers(1, 12), st.integers(1, 40), st.floats(0.0, 6.0), st.integers(0, 10**6))
def test_clip_search_rounds_every_row_at_least_as_close_as_clipping_at_its_maximum(bits, rows, cols, outlier, seed):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(rows, cols, generator=g)
    w[:, 0] *= 1 + outlier  # an outlier column: clipping it can pay
    q, scale = tg.quantize_int_rows(w, bits)
    qmax = 2 ** (bits - 1) - 1
    assert q.abs().max() <= qmax and torch.equal(q, q.round()) and torch.equal(scale, scale.half().float())
    at_max = (w.abs().amax(1, keepdim=True) / qmax).clamp_min(tg.TERNARY_MIN_SCALE).half().float()
    err_max = (((w / at_max).round().clamp(-qmax, qmax) * at_max - w) ** 2).sum(1)
    assert ((q * scale - w) ** 2).sum(1).le(err_max).all()


@given(st.integers(0, 50), st.sampled_from(["attn,mlp", "mlp"]))
def test_reloaded_model_gives_the_same_logits(seed, ternary):
    model, cfg = tiny_model(seed, TERNARY_LAYERS=ternary)
    tg.set_qat(model, True)
    blob, _, config, state = roundtrip(model, cfg)
    reference = tiny_model(seed, TERNARY_LAYERS=ternary)[0]
    latent = model.state_dict()
    quantized = quantized_reference(model, 6, 8)
    ternary_names = {n for n, _, enc, _, _ in tg.tensor_plan(model, bits()) if enc == "ternary"}
    # The trained model: ternary layers keep their latent weights (quantized in the forward), int layers as quantized.
    reference.load_state_dict({n: latent[n] if n in ternary_names else quantized[n] for n in latent})
    tg.set_qat(reference, True)  # the trained forward: quantizes its latent weights
    reloaded = tg.GPT(cfg)
    reloaded.load_state_dict(state)
    tg.set_qat(reloaded, False)
    x = torch.randint(0, 64, (2, 16))
    with torch.no_grad():
        trained_ternary = [m.quantized_weight() for m in model.modules() if isinstance(m, tg.BitLinear)]
        stored_ternary = [m.weight for m in reloaded.modules() if isinstance(m, tg.BitLinear)]
        assert all(torch.equal(a, b) for a, b in zip(trained_ternary, stored_ternary))
        assert torch.equal(reference.logits(x), reloaded.logits(x))


@given(st.data())
def test_damaged_artifact_raises_a_clear_error(data):
    model, cfg = tiny_model(1)
    blob = tg.encode_artifact(model, cfg, bits()).blob
    kind = data.draw(st.sampled_from(["truncate", "flip", "magic", "version"]))
    raw = bytearray(blob)
    if kind == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif kind == "flip":
        i = data.draw(st.integers(len(tg.ARTIFACT_MAGIC) + 8, len(raw) - 1))
        raw[i] ^= 1 << data.draw(st.integers(0, 7))
    elif kind == "magic":
        raw[0] ^= 0xFF
    else:
        raw[len(tg.ARTIFACT_MAGIC)] += 1
    with pytest.raises(tg.ArtifactError) as err:
        tg.decode_artifact(bytes(raw), "model.pgolf")
    assert "model.pgolf" in str(err.value)


@given(st.floats(0.3, 1.2), st.sampled_from(["attn,mlp", "none"]), st.integers(0, 20))
def test_written_artifact_never_exceeds_the_limit(tmp_path_factory, fraction, ternary, seed):
    model, cfg = tiny_model(seed, TERNARY_LAYERS=ternary, MODEL_DIM=64, NUM_HEADS=2)
    top = {g: ladder[0] for g, ladder in tg.bit_ladders(cfg).items()}
    blob = tg.encode_artifact(model, cfg, top).blob
    cfg.artifact_limit = int((tg.code_bytes() + len(blob)) * fraction) if fraction < 1 else tg.code_bytes() + len(blob)
    path = tmp_path_factory.mktemp("a") / "model.pgolf"
    log = []
    try:
        tg.export_artifact(model, cfg, tg.Context(), str(path), log.append)
    except tg.ArtifactError:
        assert not path.exists()
        return
    assert tg.code_bytes() + path.stat().st_size <= cfg.artifact_limit
    shrunk = any(line.startswith("shrink applied") for line in log)
    assert shrunk == (fraction < 1 and path.stat().st_size < len(blob))


@given(st.floats(0.45, 1.0), st.sampled_from(["attn,mlp", "none", "mlp"]), st.sampled_from([0, 8]), st.integers(0, 20))
def test_the_export_fits_and_no_group_could_take_one_more_step_and_still_fit(fraction, ternary, embed_dim, seed):
    """The export spends the budget from the top: what it writes fits, and each group one step more precise
    (the others as chosen) would not."""
    model, cfg = tiny_model(seed, TERNARY_LAYERS=ternary, EMBED_DIM=embed_dim, MODEL_DIM=64, NUM_HEADS=2)
    ladders = tg.bit_ladders(cfg)
    top = tg.encode_artifact(model, cfg, {g: ladder[0] for g, ladder in ladders.items()}).blob
    cfg.artifact_limit = int((tg.code_bytes() + len(top)) * fraction)
    try:
        packed, chosen = tg.fit_export(model, cfg, lambda msg: None)
    except tg.ArtifactError:
        return
    assert tg.code_bytes() + len(packed.blob) <= cfg.artifact_limit
    assert packed.blob == tg.encode_artifact(model, cfg, chosen).blob
    groups = {g for *_, g in tg.tensor_plan(model, chosen)}
    for group in groups & set(ladders):
        i = ladders[group].index(chosen[group])
        if i > 0:
            richer = tg.encode_artifact(model, cfg, {**chosen, group: ladders[group][i - 1]}).blob
            assert tg.code_bytes() + len(richer) > cfg.artifact_limit, group


@given(st.sampled_from(["attn,mlp", "none", "mlp"]), st.integers(1, 3), st.sampled_from([0, 8]), st.integers(0, 9))
def test_budget_estimate_is_an_upper_bound(ternary, loops, embed_dim, seed):
    model, cfg = tiny_model(seed, TERNARY_LAYERS=ternary, LOOPS=loops, EMBED_DIM=embed_dim, UNET_SKIPS=1)
    for end in (0, -1):  # the ceilings, and the fewest bits
        chosen = {g: ladder[end] for g, ladder in tg.bit_ladders(cfg).items()}
        blob = tg.encode_artifact(model, cfg, chosen).blob
        assert tg.code_bytes() + len(blob) <= tg.estimate_artifact_bytes(cfg, chosen)


def test_training_starts_only_when_the_smallest_export_is_sure_to_fit():
    cfg = tg.Hyperparameters.from_env(env={"CONFIG_PROFILE": "competition", "TERNARY_LAYERS": "none", "NUM_LAYERS": "10"}, cuda=False)
    with pytest.raises(tg.ConfigError) as err:
        tg.check_budget(cfg, lambda msg: None)
    message = str(err.value)
    assert "ARTIFACT_LIMIT=16000000" in message and "over" in message and "tools/plan.py" in message
    competition = tg.Hyperparameters.from_env(env={"CONFIG_PROFILE": "competition"}, cuda=False)
    lines = []
    tg.check_budget(competition, lines.append)
    smallest = int(lines[0].split("smallest:")[1].split()[0])
    assert lines[0].startswith("budget_estimate bytes:") and smallest <= 16_000_000
    assert smallest == tg.estimate_artifact_bytes(competition, {"embed": 5, "int": 4, "side": 16})
    assert tg.bit_ladders(competition) == {"embed": [8, 7, 6, 5], "int": [8, 7, 6, 5, 4], "side": [32, 16]}
