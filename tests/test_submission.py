import json
import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
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
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
    out = summarize.summarize([tmp_path / n for n in cases], {})
    assert out["seeds"] == [1] and out["val_bpb"] == pytest.approx(1.25)
    flagged = {r["log"]: r["problems"] for r in out["seed_results"] if not r["valid"]}
    assert set(flagged) == {"failed.log", "oversize.log", "slow_eval.log", "slow_train.log"}
    assert "over limit" in flagged["oversize.log"][0] and "evaluation over time" in flagged["slow_eval.log"][0]
    only_bad = summarize.summarize([tmp_path / "failed.log", tmp_path / "oversize.log"], {})
    assert not only_bad["valid"] and only_bad["val_bpb"] is None
    code = summarize.main([str(tmp_path / "failed.log"), "--out", str(tmp_path / "s.json")])
    assert code == 1 and json.loads((tmp_path / "s.json").read_text())["valid"] is False


def test_run_script_dry_run_prints_every_seed_and_touches_nothing(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "SEEDS": "1 2", "OUT_DIR": str(tmp_path / "out"), "HOME": str(tmp_path)}
    done = subprocess.run(["bash", str(ROOT / "run_8xh100.sh"), "--dry-run"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("torchrun --standalone --nproc_per_node=8 train_gpt.py") == 2
    assert "SEED=1 " in done.stdout and "SEED=2 " in done.stdout and "tools/summarize.py" in done.stdout
    assert not (tmp_path / "out").exists()
    assert subprocess.run(["bash", "-n", str(ROOT / "run_8xh100.sh")]).returncode == 0


def test_run_script_never_overwrites_earlier_logs(tmp_path):
    (tmp_path / "out").mkdir()
    env = {"PATH": "/usr/bin:/bin", "OUT_DIR": str(tmp_path / "out")}
    done = subprocess.run(["bash", str(ROOT / "run_8xh100.sh"), "--dry-run"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "already exists" in done.stderr


RECORDS = sorted((ROOT / "records").glob("*/submission.json"))


@pytest.mark.parametrize("submission", RECORDS, ids=[p.parent.name for p in RECORDS])
def test_records_submission_agrees_with_the_logs_beside_it(submission):
    stored = json.loads(submission.read_text())
    logs = sorted(submission.parent.joinpath("logs").glob("*.txt"))
    names = {r["log"] for r in stored["seed_results"]}
    rebuilt = summarize.summarize([p for p in logs if p.name in names], {k: stored[k] for k in ("author", "github_id", "name", "blurb", "date")})
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
