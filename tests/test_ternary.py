import numpy as np
import torch
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

from conftest import tg, tiny_model


@given(st.integers(1, 24), st.sampled_from([(0, 40), (8, 32), (4, 12), (16, 48)]), st.sampled_from(["absmean", "absmedian"]),
       st.floats(1e-3, 10.0), st.integers(0, 10**6))
def test_quantized_weights_are_ternary_times_their_scale(rows, group_cols, scale_kind, magnitude, seed):
    group, cols = group_cols
    w = torch.randn(rows, cols, generator=torch.Generator().manual_seed(seed)) * magnitude
    layer = tg.BitLinear(cols, rows, group, scale_kind)
    with torch.no_grad():
        layer.weight.copy_(w)
    trits, s = tg.ternary_quantize(w, group, scale_kind)
    assert set(trits.unique().tolist()) <= {-1.0, 0.0, 1.0}
    assert torch.equal(s, s.half().float()) and (s > 0).all()
    q = layer.quantized_weight()
    assert torch.equal(q, (trits * s).reshape(rows, cols))
    ratio = q.reshape(rows, -1, group or cols) / s
    assert set(ratio.unique().tolist()) <= {-1.0, 0.0, 1.0}


@given(st.sampled_from([(32, 32, 16), (32, 16, 16), (48, 24, 24)]), st.sampled_from([0, 8, 16]), st.sampled_from(["absmean", "absmedian"]),
       st.integers(0, 10**6))
def test_fused_qkv_trits_and_scales_equal_those_of_three_separate_matrices(rows, group, scale_kind, seed):
    g = torch.Generator().manual_seed(seed)
    parts = [torch.randn(r, 32, generator=g) * (i + 1) for i, r in enumerate(rows)]
    fused_trits, fused_scales = tg.ternary_quantize(torch.cat(parts), group, scale_kind)
    separate = [tg.ternary_quantize(w, group, scale_kind) for w in parts]
    assert torch.equal(fused_trits, torch.cat([t for t, _ in separate]))
    assert torch.equal(fused_scales, torch.cat([s for _, s in separate]))


@given(st.integers(1, 8), st.integers(1, 8), st.integers(0, 10**6))
def test_straight_through_gradient_equals_identity_quantizer_gradient(rows, batch, seed):
    g = torch.Generator().manual_seed(seed)
    layer = tg.BitLinear(16, rows, 0, "absmean")
    layer.qat.fill_(1.0)
    x, target = torch.randn(batch, 16, generator=g), torch.randn(batch, rows, generator=g)
    ((layer(x) - target) ** 2).sum().backward()
    w_as_leaf = layer.quantized_weight().clone().requires_grad_(True)  # quantizer treated as identity
    ((torch.nn.functional.linear(x, w_as_leaf) - target) ** 2).sum().backward()
    assert torch.allclose(layer.weight.grad, w_as_leaf.grad, atol=1e-6)
    with torch.no_grad():
        assert torch.equal(layer.effective_weight(), layer.quantized_weight())


@given(arrays(np.int8, st.integers(0, 257), elements=st.integers(-1, 1)))
def test_trit_packing_roundtrips_for_any_length(trits):
    packed = tg.pack_trits(trits)
    assert len(packed) == -(-len(trits) // 5)
    np.testing.assert_array_equal(tg.unpack_trits(packed, len(trits)), trits)


@given(st.integers(2, 8), st.data())
def test_int_packing_roundtrips(bits, data):
    values = data.draw(arrays(np.int64, st.integers(0, 300), elements=st.integers(0, 2**bits - 1)))
    packed = tg.pack_bits(values, bits)
    assert len(packed) == -(-len(values) * bits // 8)
    np.testing.assert_array_equal(tg.unpack_bits(packed, len(values), bits), values)


@given(st.integers(1, 64), st.sampled_from([(0, 160), (0, 512), (0, 768), (256, 512), (160, 320), (192, 3072)]))
def test_base3_trits_cost_at_most_1_7_bits_per_weight(rows, group_cols):
    group, cols = group_cols
    meta = {"group": group, "scale": "absmean"}
    trits, s = tg.ternary_quantize(torch.randn(rows, cols), group, "absmean")
    blob = s.half().numpy().tobytes() + tg.pack_trits(trits.flatten().numpy())
    assert len(blob) == tg.ENCODINGS["ternary"].size((rows, cols), meta)
    assert 8 * len(blob) / trits.numel() <= 1.7 + 8 / trits.numel()  # + at most one byte of trit padding


@given(st.integers(4, 48), st.sampled_from([(0, 64), (16, 64), (32, 96)]), st.floats(0.0, 0.95), st.integers(0, 10**6))
def test_ternary_packing_roundtrips_scales_then_base3_trits(rows, group_cols, sparsity, seed):
    group, cols = group_cols
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(rows, cols, generator=g) * (torch.rand(rows, cols, generator=g) > sparsity)  # sparse weights: many zero trits
    meta = {"group": group, "scale": "absmean"}
    blob = tg.pack_ternary(w, meta)
    trits, s = tg.ternary_quantize(w, group, "absmean")
    scales = s.half().numpy().tobytes()
    assert blob == scales + tg.pack_trits(trits.flatten().numpy())
    assert len(blob) == tg.ENCODINGS["ternary"].size((rows, cols), meta)
    assert torch.equal(tg.unpack_ternary(blob, (rows, cols), meta), (trits * s).reshape(rows, cols))


def test_qat_switch_changes_the_output_of_a_compiled_model():
    model, cfg = tiny_model(seed=3)
    tg.set_qat(model, False)
    compiled = torch.compile(model.logits, dynamic=False)
    x = torch.randint(0, 64, (2, 16))
    with torch.no_grad():
        off = compiled(x)
        tg.set_qat(model, True)
        on = compiled(x)
        eager_on = model.logits(x)
    assert not torch.allclose(off, on, atol=1e-4)
    assert torch.allclose(on, eager_on, atol=1e-4)


@given(arrays(np.float32, st.integers(1, 200), elements=st.floats(2.0**-14, 6e4, width=32)))
def test_fp16_rounding_of_scales_matches_a_real_fp16_cast(values):
    x = torch.from_numpy(values)
    assert torch.equal(tg.round_to_fp16(x), x.half().float())
