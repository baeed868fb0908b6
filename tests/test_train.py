import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from conftest import log_values, run_script, tg, tiny_cfg, write_dataset


def test_same_seed_gives_bitwise_identical_parameters(tmp_path):
    data_path = write_dataset(tmp_path / "d", n_train=4000, n_val=200)
    cfg = tiny_cfg(DATA_PATH=data_path, VOCAB_SIZE=1024, ITERATIONS=3, MAX_WALLCLOCK_SECONDS=0, TRAIN_LOG_EVERY=100, VAL_LOSS_EVERY=0)
    runs = []
    for _ in range(2):
        torch.manual_seed(cfg.seed)
        model = tg.GPT(cfg)
        tg.train(model, cfg, tg.Context(), None, lambda msg: None)
        runs.append(model.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    torch.manual_seed(cfg.seed)
    assert not torch.equal(tg.GPT(cfg).state_dict()["tok_emb.weight"], runs[0]["tok_emb.weight"])


def test_full_run_trains_exports_and_scores_the_reloaded_artifact(sample_env, tmp_path):
    dump = tmp_path / "nll.npy"
    done = run_script({**sample_env, "TTT": "doc", "EVAL_DUMP": str(dump), "VAL_LOSS_EVERY": "3"}, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    lines = out.strip().splitlines()
    assert lines[0].startswith("config profile:cpu_sample reason:")
    assert lines[-1].startswith("final val_bpb:")
    for prefix in ("budget_estimate bytes:", "val_tokens:", "model_params stored:", "qat_on step:3", "artifact path:",
                   "final_roundtrip val_loss:", "final_sliding val_loss:", "final_ttt val_loss:"):
        assert any(line.startswith(prefix) for line in lines), prefix
    train_losses = log_values(out, "step:", "train_loss")
    assert len(train_losses) == 6 and train_losses[-1] < train_losses[0]
    assert len(log_values(out, "step:", "val_bpb")) == 2
    ttt_bpb = log_values(out, "final_ttt", "val_bpb")[0]
    assert float(lines[-1].split("val_bpb:")[1]) == ttt_bpb
    n_val = int(out.split("val_tokens:")[1].split()[0])
    nll = np.load(dump)
    assert nll.dtype == np.float32 and nll.shape == (n_val,)
    assert abs(nll.sum() / n_val - log_values(out, "final_ttt", "val_loss")[0]) < 1e-4
    assert (tmp_path / "logs" / "t.txt").read_text() == out
    artifact = out.split("artifact path:")[1].split()[0]
    total = int(out.split("artifact path:")[1].split("bytes_total:")[1].split()[0])
    assert total == (tmp_path / artifact).stat().st_size + (tg.HERE / "train_gpt.py").stat().st_size
    # Re-scoring the saved artifact reproduces the roundtrip score without any shape variables.
    shape_free = {k: v for k, v in sample_env.items() if k not in ("MODEL_DIM", "NUM_HEADS", "NUM_KV_HEADS", "NUM_LAYERS")}
    again = run_script({**shape_free, "EVAL_ARTIFACT": str(tmp_path / artifact), "RUN_ID": "again"}, tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert log_values(again.stdout, "final_roundtrip", "val_bpb") == log_values(out, "final_roundtrip", "val_bpb")
    assert "step:" not in again.stdout and "artifact_config vocab_size:1024 num_layers:2" in again.stdout
    # The trained model's last validation equals the reloaded artifact's score (same windows).
    assert abs(log_values(out, "step:6/", "val_bpb")[0] - log_values(out, "final_roundtrip", "val_bpb")[0]) < 2e-3
    # A TTT_DOC_CHUNK that the artifact's window cannot hold stops before any evaluation.
    bad = run_script({**shape_free, "EVAL_ARTIFACT": str(tmp_path / artifact), "TTT_DOC_CHUNK": "999", "RUN_ID": "bad"}, tmp_path)
    assert bad.returncode == 2 and "TTT_DOC_CHUNK" in bad.stderr and "final_" not in bad.stdout


def test_bad_input_stops_before_training_with_a_clear_message(sample_env, tmp_path):
    cases = {
        "MODEL_DIM": ("abc", "MODEL_DIM='abc'"),
        "DATA_PATH": (str(tmp_path / "nowhere"), "cached_challenge_fineweb.py"),
        "TOKENIZER_PATH": (str(tmp_path / "none.model"), "TOKENIZER_PATH"),
        "ARTIFACT_LIMIT": ("1000", "over ARTIFACT_LIMIT=1000"),
        "EVAL_ARTIFACT": (str(tmp_path / "missing.pgolf"), "EVAL_ARTIFACT"),
        "TRAIN_BATCH_TOKENS": ("100", "TRAIN_BATCH_TOKENS=100"),
        "EVAL_DUMP": ("/proc/forbidden/nll.npy", "EVAL_DUMP"),
        "MODLE_DIM": ("64", "error: MODLE_DIM is not a variable of train_gpt.py; did you mean MODEL_DIM?"),
    }
    for name, (value, expected) in cases.items():
        done = run_script({**sample_env, name: value}, tmp_path)
        assert done.returncode == 2, (name, done.stderr[-2000:])
        assert expected in done.stderr and "Traceback" not in done.stderr, (name, done.stderr[-2000:])
        assert "train_loss" not in done.stdout, name


def test_compile_priming_steps_leave_no_trace(tmp_path):
    """COMPILE_WARMUP_STEPS runs untimed steps (both QAT states) and restores the initial state:
    the trained parameters must equal those of a run without priming, bit for bit."""
    data_path = write_dataset(tmp_path / "d", n_train=4000, n_val=200)
    runs = []
    for priming in (0, 3):
        cfg = tiny_cfg(DATA_PATH=data_path, VOCAB_SIZE=1024, ITERATIONS=3, MAX_WALLCLOCK_SECONDS=0, TRAIN_LOG_EVERY=100,
                       VAL_LOSS_EVERY=0, COMPILE_WARMUP_STEPS=priming, QAT_START_FRAC=0.5)
        torch.manual_seed(cfg.seed)
        model = tg.GPT(cfg)
        tg.train(model, cfg, tg.Context(), None, lambda msg: None)
        runs.append(model.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


def diverging_run(sample_env, tmp_path, nproc=0, sync_every=10):
    lrs = {k: "1e30" for k in ("MATRIX_LR", "SCALAR_LR", "TIED_EMBED_LR")}
    env = {**sample_env, **lrs, "ITERATIONS": "40", "ARTIFACT_PATH": str(tmp_path / "a.pgolf"), "SYNC_EVERY": str(sync_every)}
    done = run_script(env, tmp_path, nproc=nproc)
    abort = [int(line.split("step:")[1]) for line in done.stdout.splitlines() if line.startswith("abort reason:nonfinite_loss step:")]
    losses = log_values(done.stdout, "step:", "train_loss")
    first_bad = next(i + 1 for i, v in enumerate(losses) if not np.isfinite(v))  # train_loss is logged every step
    assert done.returncode != 0 and not (tmp_path / "a.pgolf").exists() and "final val_bpb" not in done.stdout
    assert len(abort) == 1, done.stderr[-2000:]
    return done, abort[0], first_bad


def test_a_diverging_run_stops_with_status_3_and_writes_no_artifact(sample_env, tmp_path):
    done, abort_step, first_bad = diverging_run(sample_env, tmp_path)
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert first_bad <= abort_step < first_bad + 10  # the host reads the device every SYNC_EVERY=10 steps
    assert done.stderr.startswith(f"error: the training loss is not finite at step {abort_step}") and "MATRIX_LR" in done.stderr


def test_divergence_on_two_processes_stops_every_rank_at_that_step(sample_env, tmp_path):
    done, abort_step, first_bad = diverging_run(sample_env, tmp_path, nproc=2, sync_every=3)
    assert abort_step == -(-first_bad // 3) * 3  # the first agreement of the clocks after the loss went bad
    assert done.stderr.count(f"error: the training loss is not finite at step {abort_step}") == 2  # both ranks stop
    assert "exitcode: 3" in done.stderr  # torchrun itself exits 1 and names the workers' status


def test_a_package_that_fails_to_import_is_a_message_naming_the_reinstall(tmp_path):
    (tmp_path / "zstandard").mkdir()  # as if its compiled extension did not load
    (tmp_path / "zstandard" / "__init__.py").write_text("raise ImportError('libzstd.so.1: cannot open shared object file')\n")
    done = run_script({"PYTHONPATH": str(tmp_path)}, tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: zstandard failed to import (libzstd.so.1: cannot open shared object file): "
                                   "reinstall it with pip install --force-reinstall zstandard")


@pytest.mark.parametrize("module", ["zstandard", "sentencepiece"])
def test_a_missing_dependency_is_a_message_not_a_traceback(module, tmp_path):
    (tmp_path / "sitecustomize.py").write_text(f"import sys\nsys.modules[{module!r}] = None  # as if not installed\n")
    done = run_script({"PYTHONPATH": str(tmp_path)}, tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {module} is not installed: pip install {module}"


@given(st.integers(1, 20), st.floats(0.5, 50.0), st.floats(10.0, 5000.0), st.floats(0.5, 2.0))
def test_the_agreed_clock_reads_the_device_every_k_steps_and_stops_at_the_cap_exactly(k, step_ms, cap_ms, jitter):
    """The host reads every SYNC_EVERY steps (and at step 1, to learn the step time), every step once the cap is
    near; the stop is decided on a read, at the first step whose real clock is at or past the cap."""
    cfg = tiny_cfg(SYNC_EVERY=k, MAX_WALLCLOCK_SECONDS=cap_ms / 1000, ITERATIONS=10**6)
    clock, reads, now, step = tg.AgreedClock(cfg, tg.Context()), 0, 0.0, 0
    true_stop = None
    while True:
        before = clock.step
        elapsed, diverged = clock.read(step, now, torch.zeros(()))
        read = clock.step == step and (step > before or step == 0)
        reads += read
        if elapsed >= cap_ms:
            assert read and elapsed == now and not diverged  # decided on a real read
            break
        if true_stop is None and now >= cap_ms:
            true_stop = step
        now += step_ms * (jitter if step % 2 else 1.0)  # steps alternate between two times
        step += 1
    assert now >= cap_ms and (true_stop is None or step == true_stop)  # the first step at or past the cap
    assert reads <= step // k + 2 * (k + 1) * max(jitter, 1 / jitter) + 3  # few reads until the cap is near
