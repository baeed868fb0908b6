"""tools/plan.py: FLOPs, memory, the step's components and the evaluation of a configuration, on the meta device."""

import dataclasses
import math
import os
import shlex
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest import ROOT, TINY, tg, write_shard

sys.path.insert(0, str(ROOT / "tools"))
import plan  # noqa: E402

SCRIPT = ROOT / "tools" / "plan.py"
REQUIRED = ["params_stored", "params_effective", "bytes_estimate", "bytes_smallest", "flops_per_token_train",
            "flops_per_token_eval", "memory_mib_per_gpu", "mfu", "projected_step_ms_8xh100", "projected_steps_600s"]
COMPONENTS = ["attention", "matmul", "elementwise", "quantization", "newton_schulz", "optimizer", "grad_reduce",
              "muon_reduce", "host_reads", "launch_gaps"]


def run_plan(*args, **env) -> subprocess.CompletedProcess:
    """The script as a user runs it, with none of train_gpt's variables inherited from this shell."""
    knobs = {f.name.upper() for f in tg.Hyperparameters.knobs()}
    full = {k: v for k, v in os.environ.items() if k not in knobs}
    full.update(env)
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=full, capture_output=True, text=True, timeout=300)


def parse(line: str) -> dict:
    """A `plan ...` line as {key: value}: `key:value` parts (a value may be quoted), each key once."""
    parts = [part.split(":", 1) for part in shlex.split(line)[1:]]
    assert all(len(p) == 2 and p[0] and p[1] for p in parts), line
    assert len({k for k, _ in parts}) == len(parts), line
    return dict(parts)


def rows(stdout: str) -> list[dict]:
    """Each configuration row (`plan name:...`)."""
    return [parse(line) for line in stdout.splitlines() if line.startswith("plan name:")]


def lines(stdout: str, kind: str) -> list[dict]:
    """Each `plan <kind> ...` line, `kind` dropped (`plan eval_s:...` lines: kind "eval_s")."""
    out = []
    for line in stdout.splitlines():
        words = line.split(" ", 2)
        if line.startswith("plan ") and (words[1] == kind or words[1].startswith(kind + ":")):
            out.append(parse(line if words[1] != kind else "plan " + (words[2] if len(words) > 2 else "")))
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
      head: 2 * d * vocab (the tied embedding)
    blocks_run = PRELUDE_LAYERS + shared blocks * passes + CODA_LAYERS; training (forward + backward)
    is 3x this, since each matmul's backward is two matmuls of the same size."""
    head_dim = d // heads
    block = 2 * (2 * d * d + 2 * d * kv_heads * head_dim + 2 * d * mlp_mult * d) + 4 * seq_len * d
    return blocks_run * block + 2 * d * vocab


def analytic_ttt_row_flops(d, heads, kv_heads, mlp_mult, vocab, embed, rank, width, chunk, blocks_run):
    """(forward, backward) FLOPs of one doc-TTT row: `width` tokens through the blocks, the head on `chunk` positions,
    LoRA adapters of rank r on every block linear (in -> out: 2 r (in + out) per token) and on embed_out.
    Backward to the adapters through frozen weights: each linear's input gradient (1x its forward), each adapter's
    two weight and input gradients (2x), attention's dQ, dK, dV (2x); nothing for the embedding, and in the first
    block run the q/k/v input (the embedding's, frozen) needs no gradient: no input gradient there, one adapter
    product less (2 width r d)."""
    head_dim = d // heads
    linears = [(d, d + 2 * kv_heads * head_dim), (d, d), (d, mlp_mult * d), (mlp_mult * d, d)]
    lin = sum(2 * i * o for i, o in linears) * width
    lora = sum(2 * rank * (i + o) for i, o in linears) * width
    attn = 4 * width * width * d
    head = 2 * (embed or d) * vocab * chunk + (2 * d * embed * chunk + 2 * rank * (d + embed) * chunk if embed else 0)
    forward = (2 * embed * d * width if embed else 0) + blocks_run * (lin + lora + attn) + head
    qkv_in, qkv_out = linears[0]
    backward = (blocks_run * (lin + 2 * lora + 2 * attn) - 2 * qkv_in * qkv_out * width - 2 * width * rank * qkv_in
                + head + (2 * rank * (d + embed) * chunk if embed else 0))
    return forward, backward


def shape_env(head_dim, heads, kv_div, prelude, shared, coda, loops, mlp_mult, vocab, **extra) -> tuple[dict, int, int]:
    kv_heads = heads // kv_div if heads % kv_div == 0 else heads
    env = {"CONFIG_PROFILE": "competition", "EMBED_DIM": "0", "MODEL_DIM": str(heads * head_dim), "NUM_HEADS": str(heads),
           "NUM_KV_HEADS": str(kv_heads), "PRELUDE_LAYERS": str(prelude), "NUM_LAYERS": str(prelude + shared + coda),
           "CODA_LAYERS": str(coda), "LOOPS": str(loops), "MLP_MULT": str(mlp_mult), "VOCAB_SIZE": str(vocab),
           "TERNARY_GROUP": "0", "PARALLEL_LAYERS": "0"}  # groups of 128 do not divide tiny widths; FLOPs ignore both
    return {**env, **{k: str(v) for k, v in extra.items()}}, heads * head_dim, kv_heads


SHAPES = dict(head_dim=st.sampled_from([2, 4, 8]), heads=st.sampled_from([1, 2, 4]), kv_div=st.sampled_from([1, 2, 4]),
              prelude=st.integers(0, 1), shared=st.integers(1, 2), coda=st.integers(0, 1), loops=st.integers(1, 2),
              mlp_mult=st.integers(1, 3), vocab=st.integers(8, 96))


@given(**SHAPES, seq=st.integers(1, 24), eval_seq=st.integers(1, 24), ternary=st.sampled_from(["none", "attn,mlp"]))
@settings(max_examples=6)
def test_flop_count_equals_the_analytic_matmul_count(head_dim, heads, kv_div, prelude, shared, coda, loops, mlp_mult,
                                                     vocab, seq, eval_seq, ternary):
    env, d, kv_heads = shape_env(head_dim, heads, kv_div, prelude, shared, coda, loops, mlp_mult, vocab, TRAIN_SEQ_LEN=seq,
                                 EVAL_SEQ_LEN=eval_seq, EVAL_STRIDE=1, TERNARY_LAYERS=ternary, TTT="off")
    cfg = tg.Hyperparameters.from_env(env=env, cuda=True)
    model = plan.meta_model(cfg)
    blocks_run = prelude + shared * loops + coda
    train, counted = plan.train_flops(model, seq)
    assert counted, "the backward ran on the meta device"
    assert train == 3 * analytic_forward_flops_per_token(d, heads, kv_heads, mlp_mult, vocab, seq, blocks_run)
    assert plan.eval_flops(model, eval_seq) == analytic_forward_flops_per_token(d, heads, kv_heads, mlp_mult, vocab, eval_seq,
                                                                                blocks_run)
    assert plan.train_flop_split(plan.flop_model(cfg), seq)[0] == plan.train_flop_split(model, seq)[0]  # the ternary-free twin
    for passes in range(1, loops):  # before LOOP_START_FRAC fewer passes of the shared blocks run
        one, _ = plan.train_flops(model, seq, passes)
        run = prelude + shared * passes + coda
        assert one == 3 * analytic_forward_flops_per_token(d, heads, kv_heads, mlp_mult, vocab, seq, run)


@given(**SHAPES, embed=st.sampled_from([0, 6]), rank=st.integers(1, 4), width=st.integers(2, 24), data=st.data())
@settings(max_examples=8)
def test_a_ttt_window_costs_the_closed_form(head_dim, heads, kv_div, prelude, shared, coda, loops, mlp_mult, vocab,
                                            embed, rank, width, data):
    chunk, other = data.draw(st.integers(1, width)), data.draw(st.integers(1, width))
    env, d, kv_heads = shape_env(head_dim, heads, kv_div, prelude, shared, coda, loops, mlp_mult, vocab, EMBED_DIM=embed,
                                 TTT_LORA_RANK=rank, TRAIN_SEQ_LEN=width, TTT_DOC_CHUNK=chunk, TERNARY_LAYERS="none")
    cfg = tg.Hyperparameters.from_env(env=env, cuda=True)
    model = plan.meta_model(cfg)
    fwd, bwd = (sum(ops.values()) for ops in plan.ttt_row_flops(model, cfg, width))
    run = prelude + shared * loops + coda
    assert (fwd, bwd) == analytic_ttt_row_flops(d, heads, kv_heads, mlp_mult, vocab, embed, rank, width, chunk, run)
    memo = {}
    plan.ttt_flops(model, cfg, width, memo)  # counted at `chunk`; another chunk moves only the head's share
    moved = plan.ttt_flops(model, dataclasses.replace(cfg, ttt_doc_chunk=other), width, memo)
    assert moved == analytic_ttt_row_flops(d, heads, kv_heads, mlp_mult, vocab, embed, rank, width, other, run)


def test_adapter_parameters_are_what_attach_lora_makes():
    cfg = tg.Hyperparameters.from_env(env={**TINY, "EMBED_DIM": "8", "TTT_LORA_RANK": "3"}, cuda=False)
    model = plan.meta_model(cfg)
    adapters = tg.attach_lora(model, cfg, 5)
    assert plan.adapter_params(model, cfg) * 5 == sum(a.numel() for a in adapters)


def brute_force_steps(lengths, chunk, size, world):
    """Longest first, batches of `size`, batch k on rank k % world; a batch takes its longest document's chunks."""
    order = sorted(lengths, reverse=True)
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    return [sum(math.ceil(max(b) / chunk) for b in batches[r::world]) for r in range(world)]


@given(lengths=st.lists(st.integers(1, 400), min_size=1, max_size=60), chunk=st.integers(1, 64), size=st.integers(1, 9),
       world=st.integers(1, 8))
@settings(max_examples=25)
def test_sequential_steps_equal_a_brute_force_count(lengths, chunk, size, world):
    longest = plan.rank_batches(lengths, size, world)
    assert [plan.sequential_steps(mine, chunk) for mine in longest] == brute_force_steps(lengths, chunk, size, world)
    cfg = tg.Hyperparameters.from_env(env={**TINY, "TTT_DOC_CHUNK": str(chunk), "TRAIN_SEQ_LEN": "64"}, cuda=False)
    for mine in longest:
        schedule = plan.ttt_schedule(mine, cfg)
        assert sum(schedule.values()) == plan.sequential_steps(mine, chunk)
        assert sum(k for (_, learn), k in schedule.items() if not learn) == len(mine)  # each batch's last chunk
        assert set(w for w, _ in schedule) <= set(tg.ttt_widths(cfg))


def test_document_lengths_come_from_the_validation_shards_when_there(tmp_path):
    write_shard(tmp_path / "fineweb_val_000000.bin", np.array([1, 5, 6, 1, 7, 1, 8, 9, 9], dtype=np.uint16))
    cfg = tg.Hyperparameters.from_env(env={**TINY, "DATA_PATH": str(tmp_path), "VOCAB_SIZE": "16"}, cuda=False)
    assert plan.doc_lengths(cfg) == ([3, 2, 3], "data_path", "data_path")
    elsewhere = dataclasses.replace(cfg, data_path=str(tmp_path / "none"), vocab_size=8192)
    lengths, targets_from, lengths_from = plan.doc_lengths(elsewhere)
    assert targets_from == "sp8192_scaled" and lengths_from.startswith("sample54docs_x")
    assert sum(lengths) == pytest.approx(plan.SP1024_TARGETS * plan.SP_RATIO[8192], rel=0.02)


@given(loops=st.integers(1, 4), data=st.data())
@settings(max_examples=10)
def test_steps_in_600s_integrate_over_the_loop_switch(loops, data):
    start = data.draw(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]))
    cfg = tg.Hyperparameters.from_env(env={**TINY, "NUM_LAYERS": "1", "LOOPS": str(loops), "LOOP_START_FRAC": str(start)},
                                      cuda=False)
    step_s = {p: 0.05 * p for p in range(1, loops + 1)}
    expected = start * 600 / step_s[1] + (1 - start) * 600 / step_s[loops] if loops > 1 else 600 / step_s[1]
    assert plan.steps_in_600s(cfg, step_s) == min(cfg.iterations, math.floor(expected))


@given(loops=st.integers(1, 2), sync_every=st.integers(1, 20), reduce=st.sampled_from(["bf16", "fp32"]))
@settings(max_examples=4)
def test_the_step_components_sum_to_the_total(loops, sync_every, reduce):
    cfg = tg.Hyperparameters.from_env(env={**TINY, "LOOPS": str(loops), "SYNC_EVERY": str(sync_every), "TERNARY_GROUP": "0",
                                           "TRAIN_BATCH_TOKENS": "256", "GRAD_REDUCE_DTYPE": reduce}, cuda=True)
    facts = plan.measure(cfg)
    for passes in range(1, loops + 1):
        parts = plan.step_budget(plan.step_shape(cfg, facts, passes))
        assert list(parts) == COMPONENTS and all(p.ms >= 0 for p in parts.values())
        printed = lines("\n".join(plan.step_lines(parts, None, (1.0, 2.0))), "step")
        assert [p["name"] for p in printed] == COMPONENTS + ["total"]
        assert float(printed[-1]["ms"]) == pytest.approx(sum(float(p["ms"]) for p in printed[:-1]), abs=0.01 * len(parts))
        assert plan.budget_total(parts) == pytest.approx(sum(p.ms for p in parts.values()))


def test_newton_schulz_shares_follow_muons_balanced_owners():
    cfg = tg.Hyperparameters.from_env(env={}, cuda=True)
    model = plan.meta_model(cfg)
    shares = plan.muon_shares(model, cfg)
    muon = tg.param_groups(model)["muon"]
    assert sum(r * c for share in shares for r, c in share) == sum(p.numel() for p in muon)
    loads = [sum(r * c for r, c in share) for share in shares]
    assert max(loads) - min(loads) <= max(p.numel() for p in muon)  # greedy, largest first: within one matrix
    assert plan.newton_schulz_ms(model, cfg, 3, compiled=True) < plan.newton_schulz_ms(model, cfg, 3, compiled=False)


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
    assert configured["extrapolated"] == "yes"  # two passes of the middle pair: more FLOPs than the larger anchor
    assert configured["profile"] == "competition"  # no CUDA here, and still the competition shape
    cfg = tg.Hyperparameters.from_env(env={}, cuda=True)
    assert int(configured["params_stored"]) == tg.count_params(plan.meta_model(cfg), cfg)[0]
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


def test_default_run_prints_the_step_budget_beside_the_flop_projection(default_run):
    steps = lines(default_run.stdout, "step")
    assert [s["name"] for s in steps] == COMPONENTS + ["total"]
    total = steps[-1]
    assert float(total["ms"]) == pytest.approx(sum(float(s["ms"]) for s in steps[:-1]), abs=0.06)
    assert total["record_ms"] == "unknown"  # the default's looped step is not the ternary record's flat one
    assert total["flop_mfu_ms"] == rows(default_run.stdout)[0]["projected_step_ms_8xh100"]
    assert all(s["assumption"] for s in steps)
    ns = lines(default_run.stdout, "newton_schulz")[0]
    assert float(ns["eager_ms"]) == float(steps[COMPONENTS.index("newton_schulz")]["ms"])
    assert ns["decision"] == ("compile" if float(ns["gain_s_per_run"]) > float(ns["compile_s"]) else "eager")
    loop = lines(default_run.stdout, "loop")
    assert [(x["passes"], x["from"]) for x in loop] == [("1", "0.00"), ("2", "0.50")] and loop[-1]["components_ms"] == total["ms"]
    assert float(loop[0]["components_ms"]) < float(loop[1]["components_ms"])  # before the switch: the flat stack's step


def test_the_competition_evaluation_projects_under_560_s(default_run):
    """The acceptance criterion: the default evaluation (TTT=doc, chunk 48) on 8xH100, compile counted."""
    (e,) = lines(default_run.stdout, "eval_s")
    parts = ("compile_s", "roundtrip_s", "sliding_s", "ttt_s")
    assert float(e["eval_s"]) == pytest.approx(sum(float(e[k]) for k in parts), abs=0.3)
    assert float(e["sliding_s"]) == 0 and float(e["ttt_s"]) > 0  # EVAL_STRIDE=0: no sliding pass
    assert float(e["eval_s"]) <= 560, e
    chunks = lines(default_run.stdout, "eval_chunks")[0]
    assert [k for k in chunks if k.isdigit()] == ["48", "64", "96", "128"]
    assert float(chunks["48"]) == float(e["eval_s"])
    seconds = [float(chunks[k]) for k in ("48", "64", "96", "128")]
    assert seconds == sorted(seconds, reverse=True)  # larger chunks, fewer steps
    ttt = lines(default_run.stdout, "eval_ttt")[0]
    assert ttt["chunk"] == "48" and ttt["widths"] == "256,1024" and int(ttt["learn_steps"]) < int(ttt["steps_per_rank"])


def test_new_output_lines_stay_under_130_characters(default_run):
    assert all(len(line) <= 130 for line in default_run.stdout.splitlines() if not line.startswith("plan name:"))


def test_compile_counts_every_graph_the_evaluation_compiles():
    cfg = tg.Hyperparameters.from_env(env={}, cuda=True)
    assert plan.compile_graphs(cfg) == {"score": 15, "ttt256_grad": 35, "ttt256_nograd": 15, "ttt1024_grad": 35,
                                        "ttt1024_nograd": 15}
    assert set(plan.compile_graphs(dataclasses.replace(cfg, eval_stride=64, ttt="off"))) == {"score", "sliding_tail"}
    assert plan.compile_graphs(dataclasses.replace(cfg, compile=False)) == {}


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
