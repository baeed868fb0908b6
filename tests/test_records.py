"""tools/compress_code.py's compressed script, and tools/make_record.py: the records folder it builds, and --check."""

import hashlib
import json
import math
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import compress_code  # noqa: E402
import logs  # noqa: E402
import make_record  # noqa: E402
import summarize  # noqa: E402


def run_file(script: Path, env: dict, cwd: Path, nproc: int = 0, timeout: int = 240) -> subprocess.CompletedProcess:
    """conftest.run_script for any script path: plain python, or torchrun with nproc CPU processes."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_"))}
    full.update({k: str(v) for k, v in env.items()})
    full["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, str(script)] if not nproc else [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", str(script)]
    return subprocess.run(cmd, env=full, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def tool(*args, cwd=ROOT, name="make_record.py") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / name), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=240)


def compressor(*args) -> subprocess.CompletedProcess:
    return tool(*args, name="compress_code.py")


def statuses(stdout: str) -> dict:
    """check name -> worst status over its lines."""
    worst = {}
    rank = {"ok": 0, "warn": 1, "fail": 2}
    for line in stdout.splitlines():
        m = re.match(r"check:(\S+) (ok|warn|fail) ", line)
        if m and rank[m.group(2)] >= rank.get(worst.get(m.group(1)), -1):
            worst[m.group(1)] = m.group(2)
    return worst


# -----------------------------------------------------------------------------
# The compressed script
# -----------------------------------------------------------------------------

PROBE = b'''"""A probe of what a wrapped script sees."""
from __future__ import annotations

import dataclasses
import sys
import traceback
import typing
from pathlib import Path


@dataclasses.dataclass
class Knobs:
    width: int = 3
    LIMIT: typing.ClassVar[int] = 7  # a string annotation: dataclasses resolve it in sys.modules[__module__]


def fail():
    raise RuntimeError("probe failure")


if __name__ == "__main__":
    print("name", __name__)
    print("file", Path(__file__).resolve())
    print("bytes", len(Path(__file__).read_bytes()))
    print("fields", [f.name for f in dataclasses.fields(Knobs)], Knobs().width, Knobs.LIMIT)
    print("doc", __doc__)
    if len(sys.argv) > 1:
        try:
            fail()
        except RuntimeError:
            print(traceback.format_exc())
'''


def test_compressed_script_runs_its_source_as_itself(tmp_path):
    (tmp_path / "probe.py").write_bytes(PROBE)
    wrapper = tmp_path / "run" / "train_gpt.py"
    done = compressor(tmp_path / "probe.py", "-o", wrapper)
    assert done.returncode == 0, done.stderr
    out = subprocess.run([sys.executable, str(wrapper)], capture_output=True, text=True, cwd=tmp_path).stdout.splitlines()
    assert out == ["name __main__", f"file {wrapper.resolve()}", f"bytes {wrapper.stat().st_size}", "fields ['width'] 3 7",
                   "doc A probe of what a wrapped script sees."]
    crash = subprocess.run([sys.executable, str(wrapper), "x"], capture_output=True, text=True, cwd=tmp_path).stdout
    assert f'{wrapper.resolve()}", line 18, in fail\n    raise RuntimeError("probe failure")' in crash  # the source's line
    assert compress_code.decompress(wrapper.read_bytes()) == PROBE
    assert compressor("-d", wrapper).stdout == PROBE.decode()
    header = next(line for line in wrapper.read_text().splitlines() if line.startswith("#   python3 -c"))
    stdlib = subprocess.run(["bash", "-c", header[4:].replace("<this file>", shlex.quote(str(wrapper)))], capture_output=True, text=True)
    assert stdlib.stdout == PROBE.decode(), stdlib.stderr


def test_compressed_script_imports_as_a_module(tmp_path):
    """Imported (not run) it is a module whose dataclasses work; exec into a fresh namespace would not be."""
    (tmp_path / "probe.py").write_bytes(PROBE)
    wrapper = tmp_path / "wrapped.py"
    wrapper.write_bytes(compress_code.compress(PROBE))
    module = make_record.load_script(wrapper)
    assert [f.name for f in module.dataclasses.fields(module.Knobs)] == ["width"] and module.__file__ == str(wrapper)
    naive = {"__name__": "__main__", "__file__": str(wrapper)}
    exec(compile(PROBE, "probe", "exec", dont_inherit=True), naive)  # the pitfall the wrapper avoids
    assert [f.name for f in naive["dataclasses"].fields(naive["Knobs"])] != ["width"]


def test_compress_refuses_a_wrapper_and_a_broken_source(tmp_path):
    (tmp_path / "bad.py").write_text("def f(:\n")
    (tmp_path / "w.py").write_bytes(compress_code.compress(PROBE))
    for src, message in (("bad.py", "does not compile"), ("w.py", "already a compressed wrapper")):
        done = compressor(tmp_path / src, "-o", tmp_path / "out.py")
        assert done.returncode == 2 and message in done.stderr and not (tmp_path / "out.py").exists()


def test_compressed_train_gpt_scores_and_exports_exactly_like_the_plain_one(sample_env, tmp_path):
    wrapper = tmp_path / "z" / "train_gpt.py"
    assert compressor(ROOT / "train_gpt.py", "-o", wrapper).returncode == 0
    (tmp_path / "plain").mkdir()
    plain = run_file(ROOT / "train_gpt.py", sample_env, tmp_path / "plain")
    packed = run_file(wrapper, sample_env, tmp_path / "z")
    assert plain.returncode == 0 and packed.returncode == 0, packed.stderr[-3000:]
    final = lambda out: [line for line in out.splitlines() if line.startswith(("final_", "final val_bpb"))]  # noqa: E731
    strip = lambda lines: [re.sub(r" eval_time:\d+ms", "", line) for line in lines]  # noqa: E731
    assert strip(final(plain.stdout)) == strip(final(packed.stdout)) and final(plain.stdout)
    assert (tmp_path / "plain/artifacts/t.pgolf").read_bytes() == (tmp_path / "z/artifacts/t.pgolf").read_bytes()
    size, sha = wrapper.stat().st_size, hashlib.sha256(wrapper.read_bytes()).hexdigest()
    assert f"code bytes:{size} sha256:{sha}" in packed.stdout
    assert f"bytes_code:{size} " in packed.stdout and size < (ROOT / "train_gpt.py").stat().st_size // 2
    budget = lambda out: int(out.split("budget_estimate bytes:")[1].split()[0])  # noqa: E731
    assert budget(plain.stdout) - budget(packed.stdout) == (ROOT / "train_gpt.py").stat().st_size - size


def test_compressed_train_gpt_runs_under_torchrun(sample_env, tmp_path):
    wrapper = tmp_path / "train_gpt.py"
    wrapper.write_bytes(compress_code.compress((ROOT / "train_gpt.py").read_bytes()))
    done = run_file(wrapper, {**sample_env, "ITERATIONS": "3", "TTT": "off"}, tmp_path, nproc=2)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "world_size:2" in done.stdout and "final val_bpb:" in done.stdout
    assert f"code bytes:{wrapper.stat().st_size} sha256:{hashlib.sha256(wrapper.read_bytes()).hexdigest()}" in done.stdout


# -----------------------------------------------------------------------------
# --check on synthetic folders
# -----------------------------------------------------------------------------

CODE = b"print('a stand-in for train_gpt.py, 40 bytes')\n"
SEEDS = (1, 2, 3, 4)
VAL_TOKENS, VAL_BYTES = 1000, 2453
NATS_PER_BPB = math.log(2) * VAL_BYTES / VAL_TOKENS  # val_loss / val_bpb of one validation set


def our_log(seed, code=CODE, bpb=1.2, bytes_model=15_000_000, eval_ms=300_000, train_ms=599_000, lr="0.04", diverged=False):
    size, sha = len(code), hashlib.sha256(code).hexdigest()
    lines = [
        "config profile:competition reason:CUDA found: competition shape",
        "device:cuda world_size:8 gpu:NVIDIA_H100_80GB_HBM3 torch:2.13.0",
        f"code bytes:{size} sha256:{sha}",
        f"hyperparameters data_path:/d tokenizer_path:/t.model run_id:r{seed} seed:{seed} config_profile:competition "
        f"model_dim:768 matrix_lr:{lr} artifact_path:artifacts/r{seed}.pgolf eval_dump:",
        f"val_tokens:{VAL_TOKENS} val_bytes:{VAL_BYTES}",
        f"step:100/20000 train_loss:3.0000 train_time:{train_ms // 2}ms step_avg:50.00ms",
    ]
    if diverged:
        return "\n".join(lines + ["abort reason:nonfinite_loss step:150"]) + "\n"
    loss = bpb * NATS_PER_BPB
    lines += [
        f"step:200/20000 train_loss:2.9000 train_time:{train_ms}ms step_avg:50.00ms",
        f"artifact path:a.pgolf bytes_model:{bytes_model} bytes_code:{size} bytes_total:{bytes_model + size}",
        f"final_roundtrip val_loss:{loss + 0.1:.8f} val_bpb:{bpb + 0.05:.8f} eval_time:1000ms",
        f"final_sliding val_loss:{loss:.8f} val_bpb:{bpb:.8f} stride:64 eval_time:2000ms",
        f"eval_total time:{eval_ms}ms budget:600000ms",
        f"final val_bpb:{bpb:.8f}",
    ]
    return "\n".join(lines) + "\n"


BROKEN = {  # case -> (the check that must fail, what seed 3's log or the folder gets)
    "over_limit": ("bytes_total", {"bytes_model": 16_000_001 - len(CODE)}),
    "hash_mismatch": ("code_hash", None),
    "other_settings": ("settings", {"lr": "0.05"}),
    "diverged": ("finished", {"diverged": True}),
    "slow_eval": ("eval_time", {"eval_ms": 600_001}),
}


def synthetic_folder(root: Path, case: str = "valid") -> Path:
    folder = root / "records" / "track_10min_16mb" / f"2026-01-01_{case}"
    folder.mkdir(parents=True)
    paths = []
    for seed in SEEDS:
        kw = BROKEN[case][1] if case in BROKEN and seed == 3 and BROKEN[case][1] else {}
        paths.append(folder / f"train_seed{seed}.log")
        paths[-1].write_text(our_log(seed, bpb=1.2 + seed / 1000, **kw))
    shipped = CODE.replace(b"a stand-in", b"A stand-in") if case == "hash_mismatch" else CODE  # same size, other bytes
    (folder / "train_gpt.py").write_bytes(shipped)
    (folder / "requirements.txt").write_text("torch\n")
    (folder / "README.md").write_text("# test\n")
    meta = {"author": "a", "github_id": "g", "name": "n", "blurb": "b", "date": "2026-01-01", "track": "10min_16mb"}
    (folder / "submission.json").write_text(json.dumps(summarize.summarize(paths, meta)))
    return folder


def test_a_valid_synthetic_folder_passes_every_check(tmp_path):
    done = tool("--check", synthetic_folder(tmp_path))
    assert done.returncode == 0, done.stdout
    found = statuses(done.stdout)
    assert set(found) >= {"files", "submission_fields", "code_hash", "bytes_code", "bytes_total", "finished", "train_time",
                          "eval_time", "settings", "seeds", "means", "hardware"}
    assert set(found.values()) == {"ok"}, done.stdout
    assert done.stdout.splitlines()[-1].startswith("checks: ") and done.stdout.splitlines()[-1].endswith(" 0 warn 0 fail")


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_check_fails_for_its_case_only(tmp_path, case):
    name = BROKEN[case][0]
    done = tool("--check", synthetic_folder(tmp_path, case))
    found = statuses(done.stdout)
    assert done.returncode == 1 and found[name] == "fail", done.stdout
    assert [n for n, s in found.items() if s == "fail"] == [name], done.stdout


def test_a_record_needs_three_seeds_and_a_non_record_does_not(tmp_path):
    folder = synthetic_folder(tmp_path)
    for seed in (2, 3):
        (folder / f"train_seed{seed}.log").unlink()
    paths = sorted(folder.glob("*.log"))
    meta = {"author": "a", "github_id": "g", "name": "n"}
    (folder / "submission.json").write_text(json.dumps(summarize.summarize(paths, meta)))
    record = tool("--check", folder)
    assert record.returncode == 1 and statuses(record.stdout)["seeds"] == "fail" and "at least 3" in record.stdout
    other = tool("--check", folder, "--track", "non_record_16mb")
    assert other.returncode == 0 and statuses(other.stdout)["seeds"] == "ok"


def test_means_that_disagree_with_the_logs_fail(tmp_path):
    folder = synthetic_folder(tmp_path)
    data = json.loads((folder / "submission.json").read_text())
    data["val_bpb"] += 0.001
    (folder / "submission.json").write_text(json.dumps(data))
    done = tool("--check", folder)
    assert done.returncode == 1 and statuses(done.stdout)["means"] == "fail"


def challenge_style_log(seed, bpb, source=None):
    """Lines in the shapes the challenge's baseline train_gpt.py prints (written here, not copied)."""
    head = [source, "=" * 100, "Running PyTorch 2.9", "=" * 100] if source else []
    return "\n".join(head + [
        f"model_params:1000 world_size:8 grad_accum_steps:1", f"num_heads:8 num_kv_heads:4 train_seq_len:1024", f"seed:{seed}",
        "warmup_step:1/20",
        "step:1/20000 train_loss:6.9000 train_time:40ms step_avg:40.00ms",
        "step:500/20000 val_loss:2.5000 val_bpb:1.4800 train_time:20000ms step_avg:40.00ms",
        "stopping_early: wallclock_cap train_time:599950ms step:14000/20000",
        "Serialized model int8+zlib: 15000000 bytes (payload:1 raw_torch:2 payload_ratio:3.00x)",
        "Code size: 50 bytes",
        "Total submission size int8+zlib: 15000050 bytes",
        f"final_int8_zlib_roundtrip val_loss:{bpb * 1.69:.4f} val_bpb:{bpb:.4f} eval_time:1500ms",
        f"final_int8_zlib_roundtrip_exact val_loss:{bpb * 1.69:.8f} val_bpb:{bpb:.8f}",
    ]) + "\n"


def test_check_reads_challenge_style_logs_and_warns_where_facts_are_missing(tmp_path):
    folder = tmp_path / "track_10min_16mb" / "2026-01-01_other"
    folder.mkdir(parents=True)
    code = "# fifty bytes of a train_gpt.py of another author\n"
    assert len(code.encode()) == 50
    (folder / "train_gpt.py").write_text(code)
    (folder / "README.md").write_text("x\n")
    bpbs = {1337: 1.22, 42: 1.221, 7: 1.219}
    for seed, bpb in bpbs.items():
        (folder / f"train_seed{seed}.log").write_text(challenge_style_log(seed, bpb, source=code if seed == 42 else None))
    (folder / "submission.json").write_text(json.dumps({
        "author": "o", "github_id": "o", "name": "other", "val_bpb": round(sum(bpbs.values()) / 3, 5),
        "seed_results": {str(s): {"val_bpb": b} for s, b in bpbs.items()}}))
    done = tool("--check", folder)
    found = statuses(done.stdout)
    assert done.returncode == 0, done.stdout
    for name in ("bytes_code", "bytes_total", "finished", "train_time", "eval_time", "settings", "seeds", "means"):
        assert found[name] == "ok", (name, done.stdout)
    assert found["code_hash"] == "warn" and "1 log(s) embed its source" in done.stdout  # seed 42 logged it, the others prove nothing
    assert found["files"] == "warn" and "requirements.txt" in done.stdout
    assert "sum of 1 eval_time lines" in done.stdout
    (folder / "train_seed7.log").write_text(challenge_style_log(7, 1.219).replace("Total submission size", "Total size"))
    assert "train_seed7.log: no total size line" in tool("--check", folder).stdout


# -----------------------------------------------------------------------------
# summarize --against with val_bpb-only references, pooled references, and --check --against
# -----------------------------------------------------------------------------


def seed_logs(folder: Path, name: str, bpbs, **kw):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, bpb in enumerate(bpbs):
        paths.append(folder / f"{name}{i}.log")
        paths[-1].write_text(our_log(i, bpb=bpb, **kw))
    return paths


def test_against_converts_a_val_bpb_only_reference_with_its_own_logs(tmp_path, capsys):
    new = seed_logs(tmp_path / "new", "n", [1.100, 1.101, 1.099])
    ref_logs = seed_logs(tmp_path / "ref", "r", [1.110, 1.111, 1.109])
    bpb_only = tmp_path / "ref" / "submission.json"
    bpb_only.write_text(json.dumps({"seeds": [0, 1, 2], "seed_scores": [1.110, 1.111, 1.109]}))
    assert summarize.main([*map(str, new), "--against", *map(str, ref_logs)]) in (0, 1)
    from_logs = capsys.readouterr().out
    assert summarize.main([*map(str, new), "--against", str(bpb_only)]) in (0, 1)
    from_json = capsys.readouterr().out
    pick = lambda out, key: out.split(f"{key}: ")[1].split()[0]  # noqa: E731
    assert abs(float(pick(from_json, "delta_nats")) - float(pick(from_logs, "delta_nats"))) < 1e-6
    assert f"reference_val_loss: from val_bpb x {NATS_PER_BPB:.8f}" in from_json and "ln2 x val_bytes / val_tokens" in from_json
    lonely = tmp_path / "lonely" / "submission.json"
    lonely.parent.mkdir()
    lonely.write_text(bpb_only.read_text())
    assert summarize.main([*map(str, new), "--against", str(lonely)]) == 2
    err = capsys.readouterr().err
    assert "lonely/submission.json: the per-seed results have no val_loss" in err and "tokens per byte" in err and "Searched:" in err


def test_against_pools_references_and_counts_a_repeated_run_once(tmp_path, capsys):
    new = seed_logs(tmp_path / "new", "n", [1.100, 1.101, 1.099])
    ref_logs = seed_logs(tmp_path / "ref", "r", [1.110, 1.111, 1.109])
    repro = seed_logs(tmp_path / "repro", "p", [1.112, 1.108])
    for p, seed in zip(repro, (7, 8)):
        p.write_text(p.read_text().replace("seed:0 ", f"seed:{seed} ").replace("seed:1 ", f"seed:{seed} "))
    submission = tmp_path / "ref" / "submission.json"
    submission.write_text(json.dumps(summarize.summarize(ref_logs, {})))
    assert summarize.main([*map(str, new), "--against", str(submission), *map(str, ref_logs), *map(str, repro)]) in (0, 1)
    out = capsys.readouterr().out
    assert "reference: seeds:5 " in out and "review_p_value: " in out and "review_verdict: passes" in out


def test_check_against_gives_both_readings(tmp_path):
    folder = synthetic_folder(tmp_path)
    worse = seed_logs(tmp_path / "prev", "r", [1.2035, 1.2040, 1.2030])
    done = tool("--check", folder, "--against", *worse)
    found = statuses(done.stdout)
    assert found["significance_readme"] == "warn" and "below 0.005" in done.stdout  # 0.0015 bpb better: not 0.005 nats
    assert found["significance_review"] == "ok" and "p < 0.25" in done.stdout and done.returncode == 0
    better = seed_logs(tmp_path / "best", "b", [1.100, 1.101, 1.099])
    done = tool("--check", folder, "--against", *better)
    assert statuses(done.stdout)["significance_review"] == "fail" and done.returncode == 1


# -----------------------------------------------------------------------------
# A folder built from real CPU runs
# -----------------------------------------------------------------------------


def test_a_folder_built_from_real_runs_passes_check(sample_env, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    script = runs / "train_gpt.py"
    script.write_bytes((ROOT / "train_gpt.py").read_bytes())  # every seed runs one copy, as run_8xh100.sh does
    for seed in (1337, 42, 2024):
        done = run_file(script, {**sample_env, "SEED": seed, "RUN_ID": f"cpu_seed{seed}"}, runs)
        assert done.returncode == 0, done.stderr[-3000:]
    paths = sorted((runs / "logs").glob("*.txt"))
    out = tmp_path / "records"
    args = [*paths, "--code", script, "--name", "tiny cpu", "--author", "Tester", "--github-id", "tester", "--date", "2026-01-02",
            "--blurb", "three tiny seeds", "-o", out]
    done = tool(*args)
    folder = out / "track_non_record_16mb" / "2026-01-02_tiny_cpu"
    assert done.returncode == 0, done.stdout + done.stderr
    assert "track: non_record_16mb" in done.stdout and set(statuses(done.stdout).values()) <= {"ok", "warn"}
    assert {p.name for p in folder.iterdir()} == {"train_gpt.py", "requirements.txt", "submission.json", "curves.png", "README.md",
                                                  "train_seed1337.log", "train_seed42.log", "train_seed2024.log"}
    assert (folder / "train_gpt.py").read_bytes() == script.read_bytes()
    submission = json.loads((folder / "submission.json").read_text())
    assert sorted(submission["seeds"]) == [42, 1337, 2024] and submission["track"] == "non_record_16mb"
    assert submission["author"] == "Tester" and submission["date"] == "2026-01-02"
    readme = (folder / "README.md").read_text()
    for r in submission["seed_results"]:
        assert f"| {r['seed']} | {r['steps']} |" in readme and f"{r['val_bpb']:.8f}" in readme
    assert "CPU (1 process)" in readme and "non-record" in readme
    # The command reproduces every logged setting from the folder's script's defaults.
    command = readme.split("```bash\n")[1].split("\n```")[0]
    assert command.endswith("python train_gpt.py") and "MODEL_DIM=32" in command and "SEED=<seed>" in command
    env = dict(word.split("=", 1) for word in shlex.split(command) if "=" in word and not word.startswith("SEED"))
    assert "EVAL_SEQ_LEN" not in env  # implied by TRAIN_SEQ_LEN
    tg = make_record.load_script(folder / "train_gpt.py")
    cfg = tg.Hyperparameters.from_env(env={**env, "SEED": "42"}, cuda=False)
    logged = logs.read(folder / "train_seed42.log")["settings"]
    assert {k: v for k, v in logged.items() if k not in make_record.PER_SEED_KEYS} == \
        {f.name: str(getattr(cfg, f.name)) for f in tg.Hyperparameters.knobs() if f.name not in make_record.PER_SEED_KEYS}
    again = tool("--check", folder)
    assert again.returncode == 0 and again.stdout.splitlines()[-1].endswith(" 0 fail")
    # Refusals: a script other than the one that ran, and an existing folder.
    other = tmp_path / "other.py"
    other.write_bytes(script.read_bytes() + b"\n")
    refused = tool(*[a if a != script else other for a in args[:-1]], tmp_path / "records2")
    assert refused.returncode == 2 and "sha256" in refused.stderr and not (tmp_path / "records2").exists()
    exists = tool(*args)
    assert exists.returncode == 2 and "already exists" in exists.stderr
    assert tool(*args, "--force").returncode == 0


def test_build_from_a_run_folder_with_against(tmp_path):
    """A run_8xh100.sh-style folder (seed*.log and the train_gpt.py that ran); 8xH100 logs go to the
    record track; --against puts both readings in the README; a bad reference writes nothing."""
    run = tmp_path / "runs" / "tag"
    run.mkdir(parents=True)
    (run / "train_gpt.py").write_bytes(CODE)
    for seed in SEEDS[:3]:
        (run / f"seed{seed}.log").write_text(our_log(seed, bpb=1.2 + seed / 1000))
    previous = seed_logs(tmp_path / "prev", "r", [1.2035, 1.2040, 1.2030])
    common = ["--name", "Synthetic run", "--author", "a", "--github-id", "g", "--date", "2026-01-03", "-o", tmp_path / "records"]
    missing = tool(run, *common, "--against", tmp_path / "nothing.json")
    assert missing.returncode == 2 and "nothing.json: cannot read" in missing.stderr and not (tmp_path / "records").exists()
    done = tool(run, *common, "--against", *previous)
    folder = tmp_path / "records" / "track_10min_16mb" / "2026-01-03_Synthetic_run"
    assert done.returncode == 0, done.stdout + done.stderr
    assert "track: 10min_16mb (every log ran on 8xH100)" in done.stdout and (folder / "train_gpt.py").read_bytes() == CODE
    readme = (folder / "README.md").read_text()
    assert "## Significance" in readme and "challenge README rule" in readme and "review practice" in readme
    assert "8x NVIDIA H100 80GB HBM3" in readme and "could not be read from train_gpt.py" in readme  # a stand-in has no defaults
    assert statuses(done.stdout)["significance_review"] == "ok"


def test_command_paths_inside_the_repository_are_relative_to_the_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "records" / "track_x" / "d_n"
    assert make_record.portable(str(tmp_path / "data" / "sample"), folder) == "../../../data/sample"
    assert make_record.portable("/elsewhere/data", folder) == "/elsewhere/data"
    assert make_record.portable(str(tmp_path / "data"), Path("/outside")) == str(tmp_path / "data")


@pytest.mark.parametrize("folder", sorted(p.parent for p in (ROOT / "records").glob("**/submission.json")),
                         ids=lambda p: p.name)
def test_the_repositorys_records_folders_pass_check(folder):
    done = tool("--check", folder)
    assert done.returncode == 0, done.stdout
