"""tools/plan.py: FLOPs, memory and projected 8xH100 step time of a configuration, on the meta device."""

import os
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from conftest import ROOT, TINY, tg

sys.path.insert(0, str(ROOT / "tools"))
import plan  # noqa: E402

SCRIPT = ROOT / "tools" / "plan.py"
REQUIRED = ["params_stored", "params_effective", "bytes_estimate", "bytes_smallest", "flops_per_token_train", "flops_per_token_eval",
            "memory_mib_per_gpu", "mfu", "projected_step_ms_8xh100", "projected_steps_600s"]


def run_plan(*args, **env) -> subprocess.CompletedProcess:
    """The script as a user runs it, with none of train_gpt's variables inherited from this shell."""
    knobs = {f.name.upper() for f in tg.Hyperparameters.knobs()}
    full = {k: v for k, v in os.environ.items() if k not in knobs}
    full.update(env)
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=full, capture_output=True, text=True, timeout=120)


def rows(stdout: str) -> list[dict]:
    """Each `plan ...` line as {key: value}: space-separated `key:value` parts, each key once."""
    out = []
    for line in stdout.splitlines():
        if line.startswith("plan "):
            parts = [part.split(":", 1) for part in line.split()[1:]]
            assert all(len(p) == 2 and p[0] and p[1] for p in parts), line
            assert len({k for k, _ in parts}) == len(parts), line
            out.append(dict(parts))
    return out


def span(value: str) -> tuple[float, float]:
    low, high = value.split("-")
    return float(low), float(high)


@pytest.fixture(scope="module")
def default_run():
    return run_plan()


def analytic_forward_flops_per_token(d, heads, kv_heads, mlp_mult, vocab, seq_len, blocks_run):
    """Matmul FLOPs per token of one forward, 2 per multiply-add:
      linears of a block: 2 * (d*d [q] + 2*d*kv_heads*head_dim [k, v] + d*d [out proj] + 2*d*mlp_mult*d [fc, proj])
      attention of a block: each query meets all seq_len keys (masking not discounted), in QK^T
        (2 * seq_len * head_dim per head) and in AV (the same): 4 * seq_len * d
      head: 2 * d * vocab (tied or not)
    blocks_run = PRELUDE_LAYERS + SHARED_BLOCKS * LOOPS + CODA_LAYERS; training (forward + backward)
    is 3x this, since each matmul's backward is two matmuls of the same size."""
    head_dim = d // heads
    block = 2 * (2 * d * d + 2 * d * kv_heads * head_dim + 2 * d * mlp_mult * d) + 4 * seq_len * d
    return blocks_run * block + 2 * d * vocab


@given(
    head_dim=st.sampled_from([2, 4, 8]), heads=st.sampled_from([1, 2, 4]), kv_div=st.sampled_from([1, 2, 4]),
    prelude=st.integers(0, 1), shared=st.integers(1, 2), coda=st.integers(0, 1), loops=st.integers(1, 2),
    mlp_mult=st.integers(1, 3), vocab=st.integers(8, 96), seq=st.integers(1, 24), eval_seq=st.integers(1, 24),
    tie=st.booleans(), ternary=st.sampled_from(["none", "attn,mlp"]),
)
@settings(max_examples=6)
def test_flop_count_equals_the_analytic_matmul_count(head_dim, heads, kv_div, prelude, shared, coda, loops, mlp_mult,
                                                     vocab, seq, eval_seq, tie, ternary):
    kv_heads = heads // kv_div if heads % kv_div == 0 else heads
    d = heads * head_dim
    cfg = tg.Hyperparameters.from_env(env={
        "CONFIG_PROFILE": "competition", "EMBED_DIM": "0", "MODEL_DIM": str(d), "NUM_HEADS": str(heads), "NUM_KV_HEADS": str(kv_heads),
        "PRELUDE_LAYERS": str(prelude), "SHARED_BLOCKS": str(shared), "CODA_LAYERS": str(coda), "LOOPS": str(loops),
        "MLP_MULT": str(mlp_mult), "VOCAB_SIZE": str(vocab), "TRAIN_SEQ_LEN": str(seq), "EVAL_SEQ_LEN": str(eval_seq),
        "EVAL_STRIDE": "1", "TIE_EMBEDDINGS": str(int(tie)), "TERNARY_LAYERS": ternary,
        "TERNARY_GROUP": "0",  # the competition's groups of 128 do not divide these tiny widths; FLOPs do not depend on it
    }, cuda=True)
    model = plan.meta_model(cfg)
    blocks_run = prelude + shared * loops + coda
    train, counted = plan.train_flops(model, seq)
    assert counted, "the backward ran on the meta device"
    assert train == 3 * analytic_forward_flops_per_token(d, heads, kv_heads, mlp_mult, vocab, seq, blocks_run)
    assert plan.eval_flops(model, eval_seq) == analytic_forward_flops_per_token(d, heads, kv_heads, mlp_mult, vocab, eval_seq, blocks_run)
    if loops > 1:  # before LOOP_START_FRAC the shared blocks run once
        plan.set_train_loops(model, 1)
        one, _ = plan.train_flops(model, seq)
        assert one == 3 * analytic_forward_flops_per_token(d, heads, kv_heads, mlp_mult, vocab, seq, prelude + shared + coda)


def test_a_backward_that_cannot_run_on_meta_counts_as_twice_the_forward(monkeypatch):
    model = plan.meta_model(tg.Hyperparameters.from_env(env={**TINY, "TERNARY_LAYERS": "none"}, cuda=False))
    counted, ok = plan.train_flops(model, 16)
    assert ok

    def fail(*args, **kwargs):
        raise NotImplementedError("no meta kernel")

    monkeypatch.setattr(plan.torch.Tensor, "backward", fail)
    estimated, ok = plan.train_flops(model, 16)
    assert not ok and estimated == counted == 3 * plan.eval_flops(model, 16)


def test_saved_activations_grow_linearly_with_sequence_length_and_are_smaller_in_bf16():
    """The fused-attention stand-in saves no seq_len x seq_len matrix, so doubling the sequence doubles
    the per-sequence part; under the bf16 emulation the saved tensors take less than at fp32."""
    cfg = tg.Hyperparameters.from_env(env={**TINY, "TERNARY_LAYERS": "none", "TRAIN_SEQ_LEN": "128", "TTT": "off"}, cuda=False)
    model = plan.meta_model(cfg)
    one, two = plan.saved_bytes(model, 1, 64), plan.saved_bytes(model, 2, 64)
    per_seq = {64: two[0] - one[0], 128: plan.saved_bytes(model, 2, 128)[0] - plan.saved_bytes(model, 1, 128)[0]}
    assert per_seq[128] == 2 * per_seq[64]
    assert one[0] < one[1]
    assert plan.activation_bytes(model, 3, 64) == tuple(a + 2 * (b - a) for a, b in zip(one, two))


def test_default_run_prints_configured_then_both_anchors_as_key_value_rows(default_run):
    assert default_run.returncode == 0, default_run.stderr
    parsed = rows(default_run.stdout)
    assert [r["name"] for r in parsed] == ["configured", "baseline", "ternary_record"]
    assert default_run.stdout.startswith("plan name:configured ")
    for r in parsed:
        assert all(key in r for key in REQUIRED), r
        for key in ("params_stored", "params_effective", "bytes_estimate", "flops_per_token_train", "flops_per_token_eval"):
            assert int(r[key]) > 0
        assert float(r["memory_mib_per_gpu"]) > 0
    configured = parsed[0]
    assert configured["extrapolated"] == "no"  # the competition step lies between the anchors' FLOPs
    assert configured["profile"] == "competition"  # no CUDA here, and still the competition shape
    assert int(configured["params_stored"]) == tg.count_params(plan.meta_model(tg.Hyperparameters.from_env(env={}, cuda=True)), tg.Hyperparameters.from_env(env={}, cuda=True))[0]
    for anchor in parsed[1:]:
        assert "measured_step_ms_8xh100" in anchor and "source" in anchor
        assert 0 < float(anchor["mfu"]) < 1
    record = parsed[2]
    assert record["embed_dim"] == "254" and "embed_dim" not in parsed[1]  # the record's factored embedding; the baseline has none


def test_projected_ranges_are_ordered_and_each_anchor_brackets_its_measured_step_time(default_run):
    parsed = rows(default_run.stdout)
    for r in parsed:
        low, high = span(r["projected_step_ms_8xh100"])
        assert 0 < low <= high
        steps_low, steps_high = span(r["projected_steps_600s"])
        assert steps_low <= steps_high
    for anchor in parsed[1:]:
        low, high = span(anchor["projected_step_ms_8xh100"])
        assert low <= float(anchor["measured_step_ms_8xh100"]) <= high
    mfu_low, mfu_high = span(parsed[0]["mfu"])
    assert sorted(float(a["mfu"]) for a in parsed[1:]) == pytest.approx([mfu_low, mfu_high], abs=1e-4)


def test_a_bad_variable_exits_2_with_an_error_line():
    result = run_plan(MODEL_DIM="abc")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "MODEL_DIM" in result.stderr
    assert "plan " not in result.stdout


@pytest.mark.parametrize("env", [{"NUM_HEADS": "5"}, {"TRAIN_BATCH_TOKENS": "1000"}])
def test_an_impossible_configuration_returns_2_with_an_error_line(env, capsys):
    assert plan.main([], env=env) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_help_prints_usage_and_plans_nothing(capsys):
    with pytest.raises(SystemExit) as exit_:
        plan.main(["--help"], env={})
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tools/plan.py") and "plan name:" in out and "plan name:configured " not in out
