import json
import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import logs  # noqa: E402
import summarize  # noqa: E402


def synthetic_log(seed, bpb=1.2, loss=2.0, bytes_total=15_000_000, eval_ms=300_000, train_ms=599_000, finished=True):
    lines = [
        "config profile:competition reason:CUDA found: competition shape",
        "device:cuda world_size:8 gpu:NVIDIA_H100_80GB_HBM3 torch:2.13.0",
        f"hyperparameters run_id:r seed:{seed} model_dim:768",
        f"step:100/20000 train_loss:3.0000 train_time:{train_ms}ms step_avg:50.00ms",
        f"artifact path:a.pgolf bytes_model:{bytes_total - 70000} bytes_code:70000 bytes_total:{bytes_total}",
        f"final_roundtrip val_loss:{loss + 0.1:.8f} val_bpb:{bpb + 0.05:.8f} eval_time:1000ms",
        f"final_sliding val_loss:{loss:.8f} val_bpb:{bpb:.8f} stride:64 eval_time:2000ms",
        f"eval_total time:{eval_ms}ms budget:600000ms",
    ]
    if finished:
        lines.append(f"final val_bpb:{bpb:.8f}")
    return "\n".join(lines) + "\n"


@given(st.lists(st.floats(1.0, 1.5), min_size=1, max_size=4))
def test_summary_takes_every_number_from_the_valid_logs(tmp_path_factory, bpbs):
    folder = tmp_path_factory.mktemp("logs")
    paths = []
    for i, bpb in enumerate(bpbs):
        paths.append(folder / f"seed{i}.log")
        paths[-1].write_text(synthetic_log(i, bpb=bpb, loss=bpb * 1.7))
    out = summarize.summarize(paths, {"author": "a", "github_id": "g", "name": "n", "blurb": "b", "date": "d"})
    assert out["valid"] and out["seeds"] == list(range(len(bpbs)))
    assert out["val_bpb"] == pytest.approx(sum(bpbs) / len(bpbs), abs=1e-8)
    assert out["val_loss"] == pytest.approx(sum(b * 1.7 for b in bpbs) / len(bpbs), abs=1e-7)
    assert out["bytes_total"] == 15_000_000 and out["bytes_code"] == 70000
    assert out["hardware"] == "8x NVIDIA H100 80GB HBM3" and out["pytorch_version"] == "2.13.0"
    assert set(out) >= {"author", "github_id", "name", "blurb", "date", "val_loss", "val_bpb", "bytes_total", "bytes_code",
                        "seeds", "seed_results", "val_bpb_std", "hardware", "pytorch_version"}


def test_failed_oversize_and_overtime_seeds_are_flagged_not_summarized(tmp_path):
    cases = {
        "good.log": synthetic_log(1, bpb=1.25),
        "failed.log": synthetic_log(2, finished=False),
        "oversize.log": synthetic_log(3, bpb=1.0, bytes_total=16_000_001),
        "slow_eval.log": synthetic_log(4, bpb=1.0, eval_ms=600_001),
        "slow_train.log": synthetic_log(5, bpb=1.0, train_ms=600_001),
        "infinite.log": synthetic_log(6, bpb=float("inf")),
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
    out = summarize.summarize([tmp_path / n for n in cases], {})
    assert out["seeds"] == [1] and out["val_bpb"] == pytest.approx(1.25)
    flagged = {r["log"]: r["problems"] for r in out["seed_results"] if not r["valid"]}
    assert set(flagged) == {"failed.log", "oversize.log", "slow_eval.log", "slow_train.log", "infinite.log"}
    assert flagged["infinite.log"] == ["failed: final val_bpb is inf"]
    assert "over limit" in flagged["oversize.log"][0] and "evaluation over time" in flagged["slow_eval.log"][0]
    only_bad = summarize.summarize([tmp_path / "failed.log", tmp_path / "oversize.log"], {})
    assert not only_bad["valid"] and only_bad["val_bpb"] is None
    code = summarize.main([str(tmp_path / "failed.log"), "--out", str(tmp_path / "s.json")])
    assert code == 1 and json.loads((tmp_path / "s.json").read_text())["valid"] is False


def test_run_script_dry_run_prints_every_seed_and_touches_nothing(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "SEEDS": "1 2", "OUT_DIR": str(tmp_path / "out"), "HOME": str(tmp_path)}
    done = subprocess.run(["bash", str(ROOT / "run_8xh100.sh"), "--dry-run"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    script = tmp_path / "out" / "train_gpt.py"  # every seed runs the run folder's copy
    assert f"+ cp train_gpt.py {script}" in done.stdout and "compress_code.py" not in done.stdout
    assert done.stdout.count(f"torchrun --standalone --nproc_per_node=8 {script} > ") == 2
    assert "SEED=1 " in done.stdout and "SEED=2 " in done.stdout and "tools/summarize.py" in done.stdout
    assert f"tools/make_record.py {tmp_path / 'out'} --name" in done.stdout
    assert not (tmp_path / "out").exists()
    assert subprocess.run(["bash", "-n", str(ROOT / "run_8xh100.sh")]).returncode == 0


def test_run_script_compress_code_builds_and_runs_the_wrapper(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "SEEDS": "1", "OUT_DIR": str(tmp_path / "out"), "HOME": str(tmp_path), "COMPRESS_CODE": "1"}
    done = subprocess.run(["bash", str(ROOT / "run_8xh100.sh"), "--dry-run"], env=env, capture_output=True, text=True, timeout=60)
    script = tmp_path / "out" / "train_gpt.py"
    assert done.returncode == 0, done.stderr
    assert f"+ python3 tools/compress_code.py train_gpt.py -o {script}" in done.stdout
    assert f"torchrun --standalone --nproc_per_node=8 {script} > " in done.stdout and "+ cp train_gpt.py" not in done.stdout
    assert not (tmp_path / "out").exists()
    bad = subprocess.run(["bash", str(ROOT / "run_8xh100.sh"), "--dry-run"], env={**env, "COMPRESS_CODE": "yes"},
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "COMPRESS_CODE=yes: use 1 or 0" in bad.stderr


def test_run_script_never_overwrites_earlier_logs(tmp_path):
    (tmp_path / "out").mkdir()
    env = {"PATH": "/usr/bin:/bin", "OUT_DIR": str(tmp_path / "out")}
    done = subprocess.run(["bash", str(ROOT / "run_8xh100.sh"), "--dry-run"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "already exists" in done.stderr


RECORDS = sorted((ROOT / "records").glob("*/submission.json")) + sorted((ROOT / "records").glob("track_*/*/submission.json"))


@pytest.mark.parametrize("submission", RECORDS, ids=[p.parent.name for p in RECORDS])
def test_records_submission_agrees_with_the_logs_beside_it(submission):
    stored = json.loads(submission.read_text())
    names = [r["log"] for r in stored["seed_results"]]
    logs = {p.name: p for pattern in ("*", "logs/*") for p in submission.parent.glob(pattern) if p.name in names}
    meta = {k: stored[k] for k in ("author", "github_id", "name", "blurb", "date", "track") if k in stored}
    rebuilt = summarize.summarize([logs[n] for n in names], meta)
    assert rebuilt == stored


def test_there_is_a_records_folder():
    assert RECORDS, "records/<name>/submission.json is missing"


@pytest.mark.parametrize("submission", RECORDS, ids=[p.parent.name for p in RECORDS])
def test_records_script_is_the_one_that_produced_the_logs(submission):
    stored = json.loads(submission.read_text())
    assert (submission.parent / "train_gpt.py").stat().st_size == stored["bytes_code"]
    assert all(r["bytes_code"] == stored["bytes_code"] for r in stored["seed_results"] if r["valid"])


def test_plot_tool_reads_train_and_validation_points(tmp_path):
    import plot_logs

    log = tmp_path / "a.txt"
    log.write_text("step:1/9 train_loss:6.5000 train_time:1000ms step_avg:1000.00ms\n"
                   "step:2/9 train_loss:6.0000 train_time:2000ms step_avg:1000.00ms\n"
                   "step:2/9 val_loss:5.9000 val_bpb:3.1000 train_time:2000ms step_avg:1000.00ms\n"
                   "final val_bpb:3.1\n")
    assert plot_logs.curves(log) == ([(1.0, 6.5), (2.0, 6.0)], [(2.0, 5.9)])


def fake_torch(folder, body):
    """A folder to put first on PYTHONPATH whose `import torch` is `body`."""
    (folder / "torch").mkdir(parents=True)
    (folder / "torch" / "__init__.py").write_text(body)
    return folder


@pytest.mark.parametrize("body, decision", [
    ('__version__ = "2.3.1"\n', "torch:install torch==2.13.0"),
    ('__version__ = "2.5.1+cu124"\n', "torch:install torch==2.13.0"),
    ('__version__ = "2.6.0a0+git1234"\n', "torch:keep 2.6.0a0+git1234"),
    ('__version__ = "2.11.0+cu130"\n', "torch:keep 2.11.0+cu130"),
    ('raise ModuleNotFoundError("No module named \'torch\'")\n', "torch:install torch==2.13.0"),
], ids=["old", "2.5", "prerelease", "cuda", "missing"])
def test_pod_install_keeps_a_torch_of_2_6_or_newer(tmp_path, body, decision):
    import os

    env = {"PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin", "HOME": str(tmp_path),
           "PYTHONPATH": str(fake_torch(tmp_path / "site", body)), "OUT_DIR": str(tmp_path / "out")}
    done = subprocess.run(["bash", str(ROOT / "run_8xh100.sh"), "--dry-run"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stdout.splitlines() if line.startswith("torch:")] == [decision]
    installs = [line for line in done.stdout.splitlines() if "pip install" in line]
    assert installs[0] == "+ python3 -m pip install -q numpy sentencepiece zstandard hypothesis pytest"
    assert ("+ python3 -m pip install -q torch==2.13.0" in installs) == decision.startswith("torch:install")
    assert "torch==2.13.0" in (ROOT / "requirements.txt").read_text().split()


# summarize --against: the challenge's record rule (>= 0.005 nats lower val_loss at p < 0.01).


def seed_logs(folder, name, losses, **kw):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, loss in enumerate(losses):
        paths.append(folder / f"{name}{i}.log")
        paths[-1].write_text(synthetic_log(i, bpb=loss / 1.7, loss=loss, **kw))
    return [str(p) for p in paths]


def against(capsys, new, ref):
    code = summarize.main([*new, "--against", *ref])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_against_a_clear_win_is_a_record_and_a_small_one_is_not(tmp_path, capsys):
    ref_logs = seed_logs(tmp_path / "ref", "r", [1.920, 1.921, 1.919])
    reference = tmp_path / "submission.json"  # our own shape, as summarize writes it
    reference.write_text(json.dumps(summarize.summarize([ROOT / p for p in ref_logs], {})))
    code, out, _ = against(capsys, seed_logs(tmp_path / "win", "n", [1.900, 1.901, 1.899]), [str(reference)])
    assert code == 0 and "verdict: new record" in out and "delta_nats: -0.02000000" in out
    assert f"delta_bpb: {-0.02 / 1.7:+.8f}" in out
    code, out, _ = against(capsys, seed_logs(tmp_path / "small", "n", [1.917, 1.918, 1.916]), ref_logs)
    assert code == 1 and "verdict: not a record: improvement 0.00300 nats is below 0.005" in out


def test_against_a_noisy_win_fails_on_the_p_value(tmp_path, capsys):
    """Welch, one-sided, against reference - 0.005: t = -0.025 / sqrt(2 * 0.01**2 / 3) = -3.062 with
    4 degrees of freedom, p = 0.0188 (t table), not below 0.01 although the mean wins by 0.03 nats."""
    reference = tmp_path / "challenge.json"  # the challenge's shape: seed -> results
    reference.write_text(json.dumps({"val_loss": 1.94, "seed_results": {
        "1337": {"val_loss": 1.93, "val_bpb": 1.14}, "42": {"val_loss": 1.94, "val_bpb": 1.15}, "7": {"val_loss": 1.95, "val_bpb": 1.16}}}))
    code, out, _ = against(capsys, seed_logs(tmp_path / "new", "n", [1.90, 1.91, 1.92]), [str(reference)])
    p_value = float(out.split("p_value: ")[1].split()[0])
    assert code == 1 and p_value == pytest.approx(0.0188, abs=2e-4)
    assert "verdict: not a record: p 0.0188 is not below 0.01" in out and "Welch" in out


@given(st.lists(st.floats(1.8, 2.0), min_size=2, max_size=5), st.lists(st.floats(1.8, 2.0), min_size=2, max_size=5))
def test_against_never_calls_a_small_win_a_record(new, ref):
    rows = lambda losses: [{"val_loss": v, "val_bpb": v / 1.7} for v in losses]  # noqa: E731
    result = summarize.compare(rows(new), rows(ref), "new", "ref")
    improvement = sum(ref) / len(ref) - sum(new) / len(new)
    assert result["delta_nats"] == pytest.approx(-improvement, abs=1e-12)
    assert result["record"] == (improvement >= 0.005 and result["p_value"] < 0.01)
    if abs(improvement - 0.005) > 1e-9:
        assert (result["p_value"] < 0.5) == (improvement > 0.005)  # the test is one-sided, shifted by 0.005


def test_against_bad_input_is_a_message_and_status_2(tmp_path, capsys):
    new = seed_logs(tmp_path / "new", "n", [1.90, 1.91])
    ref = seed_logs(tmp_path / "ref", "r", [1.95, 1.96])
    unfinished = seed_logs(tmp_path / "bad", "u", [1.9], finished=False)
    (tmp_path / "broken.json").write_text('{"seed_results": {"1": ')
    (tmp_path / "means.json").write_text(json.dumps({"val_loss": 1.9, "val_bpb": 1.1}))
    (tmp_path / "bpb_only.json").write_text(json.dumps({"seeds": [1, 2], "seed_scores": [1.1, 1.2]}))
    (tmp_path / "text.json").write_text(json.dumps({"seed_results": {"1": {"val_loss": "low"}, "2": {"val_loss": 1.9}}}))
    cases = [
        (new[:1] + unfinished, ref, "u0.log: failed: no final val_bpb line"),
        (new[:1], ref, "1 seed(s); a t-test needs at least 2"),
        (new, ref[:1], "1 seed(s); a t-test needs at least 2"),
        (new, [str(tmp_path / "broken.json")], "broken.json: not valid JSON"),
        (new, [str(tmp_path / "means.json")], "means.json: no per-seed results"),
        (new, [str(tmp_path / "bpb_only.json")], "bpb_only.json: the per-seed results have no val_loss"),
        (new, [str(tmp_path / "text.json")], "text.json: seed 1 has a non-numeric val_loss"),
        (new, [str(tmp_path / "missing.json")], "missing.json: cannot read"),
    ]
    for logs, reference, message in cases:
        code, out, err = against(capsys, logs, reference)
        assert code == 2 and message in err and "verdict" not in out, (message, err)


def test_against_without_scipy_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.stats", None)
    code, _, err = against(capsys, seed_logs(tmp_path, "n", [1.9, 1.91]), seed_logs(tmp_path, "r", [1.95, 1.96]))
    assert code == 2 and "summarize --against needs scipy: pip install scipy" in err
    requirements = (ROOT / "tools" / "requirements.txt").read_text().split()
    assert "scipy" in requirements and "matplotlib" in requirements


def test_a_diverged_seed_is_flagged_with_its_step(tmp_path):
    log = tmp_path / "nan.log"
    log.write_text(synthetic_log(3, finished=False).split("artifact path:")[0] + "abort reason:nonfinite_loss step:12\n")
    run = summarize.seed_result(logs.read(log))
    assert not run["valid"] and run["problems"] == ["diverged: non-finite training loss at step 12"]
    (tmp_path / "ok.log").write_text(synthetic_log(1))
    out = summarize.summarize([log, tmp_path / "ok.log"], {})
    assert out["seeds"] == [1] and out["seed_results"][0]["problems"][0].startswith("diverged")
