import torch
from hypothesis import given, strategies as st

from conftest import tg, tiny_cfg, tiny_model


@given(st.integers(4, 48), st.integers(4, 48), st.floats(1.0, 10.0), st.integers(0, 10**6))
def test_newton_schulz_puts_singular_values_in_a_band_around_one(rows, cols, cond, seed):
    g = torch.Generator().manual_seed(seed)
    k = min(rows, cols)
    u, _ = torch.linalg.qr(torch.randn(rows, k, generator=g))
    v, _ = torch.linalg.qr(torch.randn(cols, k, generator=g))
    s = torch.logspace(0, -torch.log10(torch.tensor(cond)).item(), k) * torch.rand((), generator=g).add(0.1) * 10
    sv = torch.linalg.svdvals(tg.newton_schulz(u @ torch.diag(s) @ v.T, 5, torch.float32))
    assert sv.min() > 0.5 and sv.max() < 1.3, sv


@given(st.sampled_from(["attn,mlp", "none", "mlp"]), st.integers(1, 3), st.sampled_from([0, 8]), st.booleans())
def test_every_parameter_in_exactly_one_group_and_block_matrices_in_muon(ternary, loops, embed_dim, unet):
    model, _ = tiny_model(randomize=False, TERNARY_LAYERS=ternary, LOOPS=loops, EMBED_DIM=embed_dim, UNET_SKIPS=int(unet))
    groups = tg.param_groups(model)
    ids = [id(p) for ps in groups.values() for p in ps]
    assert len(ids) == len(set(ids)) and set(ids) == {id(p) for p in model.parameters()}
    matrices = {id(p) for n, p in model.named_parameters() if (".attn." in n or ".mlp." in n or n.startswith("embed_")) and p.ndim == 2}
    assert matrices == {id(p) for p in groups["muon"]}
    assert (model.body.skip_weights is not None) == unet
    assert not unet or any(p is model.body.skip_weights for p in groups["scalar"])
    assert all(p.ndim == 2 for p in groups["muon"])
    optimizers = tg.build_optimizers(model, tiny_cfg(), tg.Context())
    owned = [id(p) for opt in optimizers for g in opt.param_groups for p in g["params"]]
    assert sorted(owned) == sorted(ids)


@given(st.integers(1, 24), st.integers(1, 3), st.sampled_from(["fp32", "bf16"]), st.integers(0, 10**6))
def test_muon_orthogonalizes_each_row_block_of_a_fused_matrix_as_its_own_matrix(rows, blocks, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    split = [int(r) for r in torch.randint(1, 2 * rows, (blocks,), generator=g)]
    grad = torch.randn(sum(split), rows, generator=g)
    muon = tg.Muon([torch.nn.Parameter(torch.zeros_like(grad))], tiny_cfg(MUON_DTYPE=dtype), tg.Context(), {})
    fused = muon.update(grad, 5, split)
    expected = [tg.newton_schulz(part, 5, muon.dtype) * max(1, part.size(0) / part.size(1)) ** 0.5 for part in grad.split(split)]
    assert torch.equal(fused, torch.cat(expected).flatten())


@given(st.integers(1, 24), st.integers(1, 24), st.integers(0, 10**6))
def test_row_normalized_muon_ignores_the_scale_of_each_gradient_row(rows, cols, seed):
    g = torch.Generator().manual_seed(seed)
    grad = torch.randn(rows, cols, generator=g)
    grad = grad.sign() * (grad.abs() + 0.1)  # rows well above rms_norm's epsilon, which a tiny row would feel
    row_scales = torch.rand(rows, 1, generator=g) * 100 + 0.01
    neo = tg.Muon([torch.nn.Parameter(torch.zeros_like(grad))], tiny_cfg(MUON_ROW_NORM=1), tg.Context(), {})
    plain = tg.Muon([torch.nn.Parameter(torch.zeros_like(grad))], tiny_cfg(MUON_ROW_NORM=0), tg.Context(), {})
    assert torch.allclose(neo.update(grad, 5, [rows]), neo.update(grad * row_scales, 5, [rows]), atol=1e-4)
    unit_rows = grad / grad.pow(2).mean(1, keepdim=True).sqrt()
    assert torch.allclose(neo.update(grad, 5, [rows]), plain.update(unit_rows, 5, [rows]), atol=1e-5)


@given(st.integers(0, 30000), st.floats(0, 2e6), st.integers(1, 20000), st.floats(0, 1), st.integers(0, 100), st.floats(0, 1000))
def test_lr_multiplier_stays_in_unit_interval(step, elapsed_ms, iterations, warmdown, warmup, cap_s):
    cfg = tiny_cfg(ITERATIONS=iterations, WARMDOWN_FRAC=warmdown, WARMUP_STEPS=warmup, MAX_WALLCLOCK_SECONDS=cap_s)
    assert 0.0 <= tg.lr_multiplier(step, elapsed_ms, cfg) <= 1.0


@given(st.floats(0.01, 1), st.floats(0, 1), st.floats(1, 1000))
def test_warm_down_is_linear_over_the_last_fraction_of_the_clock(warmdown, progress, cap_s):
    cfg = tiny_cfg(ITERATIONS=10**9, WARMDOWN_FRAC=warmdown, WARMUP_STEPS=0, MAX_WALLCLOCK_SECONDS=cap_s)
    elapsed_ms = progress * cap_s * 1000
    expected = min(1.0, (1 - elapsed_ms / (cap_s * 1000)) / warmdown)
    assert abs(tg.lr_multiplier(0, elapsed_ms, cfg) - expected) < 1e-9
    assert tg.lr_multiplier(0, (1 - warmdown) * cap_s * 1000 * 0.999, cfg) == 1.0


@given(st.integers(1, 5000), st.floats(0, 1), st.floats(1, 1000))
def test_lr_multiplier_reaches_zero_at_the_end(iterations, warmdown, cap_s):
    cfg = tiny_cfg(ITERATIONS=iterations, WARMDOWN_FRAC=warmdown, MAX_WALLCLOCK_SECONDS=0)
    assert tg.lr_multiplier(iterations, 1.0, cfg) == 0.0
    assert tg.lr_multiplier(iterations - 1, 1.0, cfg) > 0.0
    capped = tiny_cfg(ITERATIONS=10**6, WARMDOWN_FRAC=warmdown, MAX_WALLCLOCK_SECONDS=cap_s)
    assert tg.lr_multiplier(100, cap_s * 1000, capped) == 0.0
    assert tg.lr_multiplier(100, cap_s * 1000 * 0.999, capped) > 0.0


@given(st.integers(0, 5000), st.floats(0, 2e6), st.integers(1, 5000), st.sampled_from([0.0, 30.0, 600.0]),
       st.floats(0.05, 1), st.floats(0, 1), st.floats(0, 1))
def test_the_learning_rate_and_every_switch_read_one_progress(step, elapsed_ms, iterations, cap_s, warmdown, qat, loop):
    """progress = max(elapsed / cap, step / ITERATIONS): the warm-down, the QAT switch and the loop switch all
    follow it, with or without a wall-clock cap, whichever of the two runs out first."""
    cfg = tiny_cfg(ITERATIONS=iterations, MAX_WALLCLOCK_SECONDS=cap_s, WARMDOWN_FRAC=warmdown, WARMUP_STEPS=0,
                   QAT_START_FRAC=qat, LOOPS=3, LOOP_START_FRAC=loop)
    done = max(elapsed_ms / (1000 * cap_s) if cap_s else 0.0, step / iterations)
    assert tg.progress(step, elapsed_ms, cfg) == done
    assert tg.lr_multiplier(step, elapsed_ms, cfg) == max(0.0, min(1.0, (1 - done) / warmdown))
    on, passes = tg.switch_states(done, cfg)
    assert on == (done >= qat) and passes == (3 if done >= loop else 1)
