from conftest import log_values, run_script, write_dataset


def test_two_processes_follow_one_process(sample_env, tmp_path):
    """Same global batch: one process and two gloo processes give the same losses and scores. The
    model loops with a progressive loss (no unused-parameter trouble), TTT steps split unevenly over
    the ranks, and a doc-mode re-score of the same artifact splits documents over the ranks."""
    data = write_dataset(tmp_path / "d", n_val=1700)
    env = {**sample_env, "DATA_PATH": str(data), "TTT": "chunk", "TTT_BATCH_SEQS": "3", "TTT_LR": "0.01",
           "NUM_LAYERS": "", "PRELUDE_LAYERS": "1", "SHARED_BLOCKS": "1", "LOOPS": "2", "PROGRESSIVE_LOSS_LOOPS": "1"}
    one = run_script({**env, "RUN_ID": "one"}, tmp_path)
    two = run_script({**env, "RUN_ID": "two"}, tmp_path, nproc=2)
    assert one.returncode == 0, one.stderr[-3000:]
    assert two.returncode == 0, two.stderr[-3000:]
    assert "world_size:2" in two.stdout
    a, b = log_values(one.stdout, "step:", "train_loss"), log_values(two.stdout, "step:", "train_loss")
    assert len(a) == len(b) == 6
    assert all(abs(x - y) < 2e-3 for x, y in zip(a, b)), (a, b)
    for phase in ("final_roundtrip", "final_sliding", "final_ttt"):
        x, y = log_values(one.stdout, phase, "val_bpb")[0], log_values(two.stdout, phase, "val_bpb")[0]
        assert abs(x - y) < 2e-3, (phase, x, y)
    artifact = str(tmp_path / one.stdout.split("artifact path:")[1].split()[0])
    doc = {**env, "EVAL_ARTIFACT": artifact, "TTT": "doc"}
    doc_one, doc_two = run_script({**doc, "RUN_ID": "d1"}, tmp_path), run_script({**doc, "RUN_ID": "d2"}, tmp_path, nproc=2)
    assert doc_one.returncode == 0 and doc_two.returncode == 0, doc_two.stderr[-3000:]
    x, y = log_values(doc_one.stdout, "final_ttt", "val_bpb")[0], log_values(doc_two.stdout, "final_ttt", "val_bpb")[0]
    assert abs(x - y) < 2e-3 and "mode:doc" in doc_two.stdout
