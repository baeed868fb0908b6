"""tools/audit_eval.py: the black-box causality audit passes every evaluation mode of train_gpt.py
and catches a doc TTT that steps on a chunk before scoring it."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st

from conftest import ROOT, SAMPLE, run_script, write_dataset

sys.path.insert(0, str(ROOT / "tools"))
import audit_eval  # noqa: E402

TOKENS = 800  # validation tokens audited: two documents (BOS at 0 and 523), the first of several TTT chunks of 64
ENV = {
    "TOKENIZER_PATH": str(SAMPLE / "fineweb_1024_bpe.model"), "RUN_ID": "audit", "MODEL_DIM": "32", "NUM_HEADS": "2",
    "NUM_KV_HEADS": "1", "NUM_LAYERS": "2", "TRAIN_SEQ_LEN": "64", "TRAIN_BATCH_TOKENS": "256", "ITERATIONS": "4",
    "MAX_WALLCLOCK_SECONDS": "0", "WARMUP_STEPS": "1", "WARMDOWN_FRAC": "0.5", "VAL_LOSS_EVERY": "0",
    "VAL_BATCH_SIZE": "1024", "EVAL_STRIDE": "16", "TTT": "off", "TTT_DOC_CHUNK": "64", "TTT_LR": "0.05",
    "EMBED_DIM": "16", "UNET_SKIPS": "1", "MUON_ROW_NORM": "1",  # the competition recipe's parts
}
MODES = {
    "plain": {"EVAL_STRIDE": "0", "TTT": "off"},
    "sliding": {"EVAL_STRIDE": "16", "TTT": "off"},
    "doc": {"TTT": "doc"},
    # The competition's TTT: chunks of 48, rank 80, AdamW betas 0 / 0.99 with weight decay, the head's projection
    # adapted, no sliding pass (the learning rate stays high, so that a leak would move the scores).
    "competition": {"TTT": "doc", "EVAL_STRIDE": "0", "TTT_DOC_CHUNK": "48", "TTT_LORA_RANK": "80", "TTT_BETA1": "0",
                    "TTT_BETA2": "0.99", "TTT_WEIGHT_DECAY": "0.5"},
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny artifact trained once by the real script, and the environment it was trained with."""
    folder = tmp_path_factory.mktemp("audit")
    env = {**ENV, "DATA_PATH": str(write_dataset(folder / "data", n_train=4000, n_val=1000))}
    done = run_script(env, folder)
    assert done.returncode == 0, done.stderr[-3000:]
    artifact = folder / done.stdout.split("artifact path:")[1].split()[0]
    return artifact, env


def audit(artifact, env, *args, script=None):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_"))}
    full.update(env, OMP_NUM_THREADS="1")
    cmd = [sys.executable, str(ROOT / "tools" / "audit_eval.py"), str(artifact), "--tokens", str(TOKENS), "--jobs", "2", *args]
    if script:
        cmd += ["--script", str(script)]
    return subprocess.run(cmd, env=full, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("mode", MODES)
def test_every_evaluation_mode_is_causal(trained, mode):
    artifact, env = trained
    done = audit(artifact, {**env, **MODES[mode]})
    last = done.stdout.strip().splitlines()[-1]
    assert done.returncode == 0 and last.startswith("audit causal: true"), done.stdout + done.stderr[-3000:]
    assert done.stdout.count("every target once") == 4, done.stdout  # the original and three altered copies
    assert "variant:bos" in done.stdout and "inside TTT chunk" in done.stdout and "near the end" in done.stdout


def test_two_processes_are_causal(trained):
    artifact, env = trained
    done = audit(artifact, {**env, "TTT": "doc"}, "--nproc", "2", "--q", "385", "--variant", "shift")
    last = done.stdout.strip().splitlines()[-1]
    assert done.returncode == 0 and last.startswith("audit causal: true") and "nproc:2" in last, done.stdout + done.stderr[-3000:]


SCORE_THEN_STEP = """\
            nll.index_add_(0, target.clamp(max=n_targets - 1).flatten(), torch.where(scored, ce.detach(), 0.0).flatten())
            if adapting and j + 1 < steps[k]:  # after the chunk's scores are taken; the last teaches no later score
                opt.zero_grad(set_to_none=False)
                (torch.where(scored, ce, 0.0).sum(1) / scored.sum(1).clamp(min=1)).sum().backward()
                opt.step()
"""
STEP_THEN_SCORE = """\
            if adapting and j + 1 < steps[k]:
                opt.zero_grad(set_to_none=False)
                (torch.where(scored, ce, 0.0).sum(1) / scored.sum(1).clamp(min=1)).sum().backward()
                opt.step()
                ce = score(seqs[:, :-1], seqs[:, 1:], offset, chunk)
            nll.index_add_(0, target.clamp(max=n_targets - 1).flatten(), torch.where(scored, ce.detach(), 0.0).flatten())
"""


def leaky_copy(path):
    """train_gpt.py whose doc TTT steps on a chunk before it scores it: each score has seen its own target."""
    source = (ROOT / "train_gpt.py").read_text()
    leaky = source.replace(SCORE_THEN_STEP, STEP_THEN_SCORE)
    assert leaky != source, "eval_ttt_doc no longer scores, then steps, as written here: update the leak"
    path.write_text(leaky)
    return path


def test_a_chunk_stepped_on_before_it_is_scored_is_caught(trained, tmp_path):
    artifact, env = trained
    done = audit(artifact, {**env, "TTT": "doc"}, script=leaky_copy(tmp_path / "leaky_train_gpt.py"))
    last = done.stdout.strip().splitlines()[-1]
    assert done.returncode == 1 and last.startswith("audit causal: false"), done.stdout + done.stderr[-3000:]
    assert "a score depends on later tokens" in last
    inside = re.search(r"audit q:(\d+) variant:shift \(inside TTT chunk.* changed_before:(\d+)", done.stdout)
    assert inside and int(inside.group(2)) > 0  # the position inside a chunk exposes it


def test_a_missing_artifact_is_a_message_and_status_2(trained, tmp_path):
    _, env = trained
    done = audit(tmp_path / "none.pgolf", env)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "no such artifact" in done.stderr and done.stdout.strip().splitlines()[-1].startswith("audit causal: false")


@given(st.integers(4, 300), st.integers(0, 10**6), st.data())
def test_an_altered_copy_agrees_before_q_and_differs_at_q(n, seed, data):
    tokens = np.random.default_rng(seed).integers(0, 64, n).astype(np.uint16)
    q = data.draw(st.integers(1, n - 1))
    shifted = audit_eval.altered(tokens, q, "shift", 64)
    assert np.array_equal(shifted[:q], tokens[:q]) and (shifted[q:] != tokens[q:]).all()
    bos = audit_eval.altered(tokens, q, "bos", 64)
    assert np.array_equal(bos[:q], tokens[:q]) and bos[q] == audit_eval.BOS_ID and np.array_equal(bos[q + 1 :], tokens[q:-1])


@given(st.integers(50, 3000), st.sampled_from([8, 16, 64, 512]), st.integers(0, 10**6))
def test_default_positions_cover_a_chunk_a_later_document_and_the_end(n, doc_chunk, seed):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(2, 64, n).astype(np.uint16)
    tokens[0] = tokens[rng.integers(1, n, 3)] = audit_eval.BOS_ID
    cfg = type("Cfg", (), {"ttt_doc_chunk": doc_chunk})()
    picks = audit_eval.default_positions(tokens, cfg)
    assert all(1 <= q < n for q, _, _ in picks)
    inside = [q for q, why, _ in picks if why.startswith("inside TTT chunk")]
    first_end = int(np.nonzero(tokens[1:] == audit_eval.BOS_ID)[0][0]) + 1
    assert len(inside) == 1
    if first_end >= 4:  # target q - 1 lies in the first document and is not the first of its chunk
        assert inside[0] - 1 < first_end and (inside[0] - 1) % doc_chunk != 0
    assert max(q for q, _, _ in picks) >= n - 2
    starts = [int(i) for i in np.nonzero(tokens == audit_eval.BOS_ID)[0] if i > 0] + [n]
    if starts[1] - starts[0] >= 3:  # a later document long enough to change inside
        q = next(q for q, _, variant in picks if variant == "bos")
        assert starts[0] < q < starts[1]
        if starts[1] - starts[0] >= 4:
            assert (q - 1 - starts[0]) % doc_chunk != 0  # not the first target of a TTT=doc chunk


def test_unscored_targets_and_a_wrong_mean_are_reported():
    log = "final_roundtrip val_loss:2.00000000 val_bpb:1.0\nfinal_ttt val_loss:3.00000000 val_bpb:1.5\nfinal val_bpb:1.5\n"
    assert audit_eval.scored_once(np.full(10, 3.0, np.float32), 10, log) == []
    assert "unscored" in audit_eval.scored_once(np.array([3.0] * 9 + [0.0], np.float32) * 10 / 9, 10, log)[0]
    assert "9 scores for 10 targets" in audit_eval.scored_once(np.full(9, 3.0, np.float32), 10, log)[0]
    assert "differs from the logged val_loss" in audit_eval.scored_once(np.full(10, 2.0, np.float32), 10, log)[0]
