"""tools/gpu_check.sh: one prepared GPU command of at most 9 minutes, rehearsed on CPU (--cpu-smoke)."""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap

import pytest
from hypothesis import given, settings, strategies as st

from conftest import ROOT

CHECK = ROOT / "tools" / "gpu_check.sh"
STAGES = ["smoke", "plain", "stack", "stack_eval", "peer"]

# The challenge baseline's stdout (formats as in tests/test_bench.py), recording the wall clock it was given.
STUB_PEER = textwrap.dedent("""\
    import os
    open("seen_seconds.txt", "w").write(os.environ["MAX_WALLCLOCK_SECONDS"])
    print("world_size:1 grad_accum_steps:8")
    print("train_batch_tokens:524288 train_seq_len:1024 iterations:20000 warmup_steps:20 max_wallclock_seconds:2.000")
    print("step:10/20000 train_loss:6.9000 train_time:3000ms step_avg:300.00ms")
    print("stopping_early: wallclock_cap train_time:3000ms step:10/20000")
    print("final_int8_zlib_roundtrip val_loss:2.0000 val_bpb:1.2000 eval_time:1500ms")
    print("final_int8_zlib_roundtrip_exact val_loss:2.00000000 val_bpb:1.20000000")
""")


def env_of(command: str) -> dict:
    """The VAR=value words of a printed `+ cd <dir> && env VAR=value ... <launcher>` command; a later one wins, as in `env`."""
    words = command.split(" && env ", 1)[1].split()
    out = {}
    for word in words:
        if "=" not in word:
            break
        key, value = word.split("=", 1)
        out[key] = value
    return out


def check(args, tmp_path, timeout=300, script=CHECK, **env):
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_", "BENCH_", "GPU_CHECK_", "PEER_SCRIPT", "NPROC"))
            and k not in ("OUT", "DATA_PATH", "TOKENIZER_PATH", "DATA_PATH_1024", "TOKENIZER_PATH_1024")}
    full["PATH"] = os.path.dirname(sys.executable) + os.pathsep + full.get("PATH", "")
    full["GPU_CHECK_WORK"] = str(tmp_path / "work")
    full.update(env)
    return subprocess.run(["bash", str(script), *args], env=full, cwd=tmp_path, capture_output=True, text=True, timeout=timeout)


def stage_lines(stdout: str) -> dict:
    """{stage: {field: value}} from the `gpu_check stage:` and `gpu_check skip:` lines."""
    out = {}
    for line in stdout.splitlines():
        if m := re.match(r"gpu_check (stage|skip):(\S+) (.*)$", line):
            fields = dict(f.split(":", 1) for f in m.group(3).split())
            out[m.group(2)] = {"kind": m.group(1), **fields}
    return out


def plan_lines(stdout: str) -> dict:
    """{stage: (expected_s, fits, ends_s, train_s)} from --dry-run's `gpu_check plan stage:` lines."""
    return {m.group(1): (int(m.group(2)), m.group(3), int(m.group(4)), int(m.group(5))) for m in re.finditer(
        r"^gpu_check plan stage:(\S+) expected_s:(\d+) fits:(yes|no) ends_s:(\d+) train_s:(\d+)$", stdout, re.M)}


def tar_texts(path) -> dict:
    with tarfile.open(path) as tar:
        return {m.name.removeprefix("./"): tar.extractfile(m).read().decode() for m in tar.getmembers() if m.isfile()}


def test_cpu_rehearsal_runs_every_stage_and_packs_their_logs_and_the_table(tmp_path):
    peer = tmp_path / "peer_train_gpt.py"
    peer.write_text(STUB_PEER)
    out = tmp_path / "out"
    done = check(["--cpu-smoke", str(out)], tmp_path, PEER_SCRIPT=str(peer), GPU_CHECK_PLAIN_SECONDS="2",
                 GPU_CHECK_STACK_SECONDS="2", GPU_CHECK_PEER_SECONDS="2")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    stages = stage_lines(done.stdout)
    assert list(stages) == ["import", *STAGES]  # in this order
    assert all(s["kind"] == "stage" and s["status"] == "ok" and s["exit_status"] == "0" for s in stages.values())
    assert re.search(r"^gpu_check calibrate scale:\d\.\d{3} smoke_s:\d+ smoke_expected_s:30$", done.stdout, re.M)
    assert re.search(r"^gpu_check done status:ok seconds:\d+ failed:none$", done.stdout, re.M)

    assert sorted(p.name for p in out.iterdir()) == ["gpu_check.tgz", "summary.txt"]
    texts = tar_texts(out / "gpu_check.tgz")
    for stage in STAGES:
        assert f"{stage}/{stage}.txt" in texts and f"{stage}/bench_env.txt" in texts
    assert {"gpu_check.txt", "import.txt", "bench.json", "summary.txt"} <= set(texts)
    assert not any(name.endswith((".pgolf", ".pt", ".ptz", ".bin")) for name in texts)  # logs only: small
    assert (tmp_path / "work" / "stack" / "stack.pgolf").is_file()  # the artifacts stay in the work folder
    summary = (out / "summary.txt").read_text()
    assert texts["summary.txt"] == summary and "| run | status |" in summary and "gpu_check stage:stack status:ok" in summary
    assert texts["import.txt"].startswith("import_check python:") and "zstandard:" in texts["import.txt"]

    runs = {r["name"]: r for r in json.loads(texts["bench.json"])["runs"]}
    assert sorted(runs) == sorted(STAGES) and all(r["status"] == "ok" for r in runs.values())
    smoke = texts["smoke/smoke.txt"]
    # The smoke: 5 steps, no TTT, no sliding windows, and only the first 4,096 validation tokens.
    assert runs["smoke"]["steps"] == 5 and runs["smoke"]["val_targets"] == 4095
    assert " iterations:5 " in smoke and " ttt:off " in smoke and " eval_stride:0 " in smoke
    assert [p["phase"] for p in runs["stack_eval"]["eval_phases"]] == ["final_roundtrip", "final_sliding", "final_ttt"]
    assert "mode:doc" in texts["stack_eval/stack_eval.txt"] and runs["stack_eval"]["val_targets"] == 65535
    assert (tmp_path / "work" / "peer" / "peer_work" / "seen_seconds.txt").read_text() == "2"
    assert "plain_over_peer_step_avg" in json.loads(texts["bench.json"])["ratios"]


def test_a_stage_that_does_not_fit_the_budget_is_skipped_and_logged(tmp_path):
    # 30 s less the 15 s kept for the table: the import check (10 s expected) fits, the smoke (30 s) does not.
    done = check(["--cpu-smoke", str(tmp_path / "out")], tmp_path, GPU_CHECK_BUDGET="30")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    stages = stage_lines(done.stdout)
    assert stages["import"]["status"] == "ok"
    for name in ("smoke", "plain", "stack"):
        assert stages[name]["kind"] == "skip" and stages[name]["reason"] == "budget"
        assert int(stages[name]["expected_s"]) > int(stages[name]["left_s"])
    assert re.search(r"^gpu_check skip:smoke reason:budget expected_s:30 left_s:\d+$", done.stdout, re.M)
    assert stages["stack_eval"]["reason"] == "no_stack_artifact" and stages["peer"]["reason"] == "no_peer_script"
    runs = {r["name"]: r for r in json.loads(tar_texts(tmp_path / "out" / "gpu_check.tgz")["bench.json"])["runs"]}
    assert runs["plain"]["status"] == "skipped: budget" and runs["stack_eval"]["status"] == "skipped: no stack artifact"


def test_a_failed_smoke_skips_every_later_stage_and_still_delivers_the_tarball(tmp_path):
    out = tmp_path / "out"
    done = check(["--cpu-smoke", str(out)], tmp_path, TERNARY_SCALE="bogus")  # reaches every run: a config error
    assert done.returncode == 1
    stages = stage_lines(done.stdout)
    assert stages["smoke"]["status"] == "fail" and stages["import"]["status"] == "ok"
    assert all(stages[name]["reason"] == "smoke_failed" for name in STAGES[1:])
    assert "failed:smoke" in done.stdout
    texts = tar_texts(out / "gpu_check.tgz")
    assert "TERNARY_SCALE" in texts["smoke/smoke.txt"] and "| smoke | failed" in (out / "summary.txt").read_text()


SLEEPY_PEER = textwrap.dedent("""\
    import os, time
    open(os.environ["PID_FILE"], "w").write(str(os.getpid()))
    print("world_size:1 grad_accum_steps:8", flush=True)
    time.sleep(300)
""")


def test_a_stage_that_overruns_is_stopped_at_the_budget_and_recorded(tmp_path):
    peer, pid_file = tmp_path / "sleepy.py", tmp_path / "peer.pid"
    peer.write_text(SLEEPY_PEER)
    done = check(["--cpu-smoke", str(tmp_path / "out")], tmp_path, GPU_CHECK_BUDGET="34", GPU_CHECK_STAGES="peer",
                 GPU_CHECK_PEER_SECONDS="1", PEER_SCRIPT=str(peer), PID_FILE=str(pid_file))
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    stages = stage_lines(done.stdout)
    assert stages["peer"]["status"] == "fail" and stages["peer"]["exit_status"] == "124"
    assert all(stages[name]["reason"] == "not_selected" for name in STAGES[:-1])
    seconds = int(re.search(r"^gpu_check done status:fail seconds:(\d+) failed:peer$", done.stdout, re.M).group(1))
    assert seconds <= 34
    assert not os.path.exists(f"/proc/{pid_file.read_text()}")  # torchrun stopped its worker
    log = (tmp_path / "work" / "peer" / "peer.txt").read_text()
    assert log.rstrip().splitlines()[-1].startswith("bench_run name:peer exit_status:124 ")
    assert "| peer | failed: no final line, exit status 124 |" in (tmp_path / "out" / "summary.txt").read_text()


@pytest.mark.parametrize("args, env, complaint", [
    (["--bogus"], {}, "unknown option"),
    (["a", "b"], {}, "one output folder only"),
    ([], {}, "no output folder"),
    (["out"], {"GPU_CHECK_BUDGET": "9m"}, "GPU_CHECK_BUDGET=9m"),
    (["out"], {"GPU_CHECK_STACK_SECONDS": "0"}, "GPU_CHECK_STACK_SECONDS=0"),
    (["out"], {"GPU_CHECK_MIN_SECONDS": "0"}, "GPU_CHECK_MIN_SECONDS=0"),
    (["out"], {"GPU_CHECK_STAGES": "smoke ttt"}, "unknown stage 'ttt'"),
    (["out"], {"GPU_CHECK_SMOKE_VAL_TOKENS": "1"}, "GPU_CHECK_SMOKE_VAL_TOKENS=1"),
    (["out"], {"DATA_PATH": "/nonexistent"}, "no fineweb_val_*.bin in DATA_PATH=/nonexistent (read by: smoke stack stack_eval)"),
    (["out"], {"DATA_PATH_1024": "/nonexistent"}, "no fineweb_val_*.bin in DATA_PATH_1024=/nonexistent (read by: plain)"),
    (["out"], {"TOKENIZER_PATH_1024": "/x.model"}, "no tokenizer at TOKENIZER_PATH_1024=/x.model (read by: plain)"),
    (["out"], {"GPU_CHECK_STAGES": "stack", "TOKENIZER_PATH": "/x.model"}, "no tokenizer at TOKENIZER_PATH=/x.model (read by: stack)"),
    (["out"], {"PEER_SCRIPT": "/nonexistent/train_gpt.py"}, "is not a file"),
    (["used_out"], {}, "gpu_check.tgz exists"),
    (["out"], {"GPU_CHECK_WORK": "used_work"}, "is not empty"),
])
def test_bad_input_exits_2_before_any_run(tmp_path, args, env, complaint):
    (tmp_path / "used_out").mkdir()
    (tmp_path / "used_out" / "gpu_check.tgz").write_text("x")
    (tmp_path / "used_work").mkdir()
    (tmp_path / "used_work" / "gpu_check.txt").write_text("x")
    done = check(["--cpu-smoke", *args], tmp_path, timeout=60, **env)
    assert done.returncode == 2 and complaint in done.stderr, done.stderr
    assert "gpu_check stage:" not in done.stdout and not (tmp_path / "work").exists() and not (tmp_path / "out").exists()


def test_a_data_pair_that_no_chosen_stage_reads_is_not_checked(tmp_path):
    # Only stack_eval (which reads DATA_PATH): the missing sp1024 pair does not stop it; without a stack
    # artifact the stage is skipped and the check ends normally.
    done = check(["--cpu-smoke", str(tmp_path / "out")], tmp_path, GPU_CHECK_STAGES="stack_eval",
                 DATA_PATH_1024="/nonexistent", TOKENIZER_PATH_1024="/x.model")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert stage_lines(done.stdout)["stack_eval"]["reason"] == "no_stack_artifact"


def test_without_a_gpu_the_real_check_refuses_to_start(tmp_path):
    if any(os.access(os.path.join(d, "nvidia-smi"), os.X_OK) for d in os.environ.get("PATH", "").split(os.pathsep)):
        pytest.skip("this machine has nvidia-smi")
    sample = {"DATA_PATH": str(ROOT / "data" / "sample"), "TOKENIZER_PATH": str(ROOT / "data" / "sample" / "fineweb_1024_bpe.model")}
    done = check([str(tmp_path / "out")], tmp_path, timeout=60, **sample, **{f"{k}_1024": v for k, v in sample.items()})
    assert done.returncode == 2 and "--cpu-smoke" in done.stderr


def kit_copy(tmp_path, prepared: bool):
    """A copy of the kit, beside a .gpu/ as the GPU kit's prepare.sh leaves it (sp1024 in data/, sp8192 in
    data8192/) when prepared, else with none (whether or not this checkout has one)."""
    repo = tmp_path / "repo"
    (repo / "tools").mkdir(parents=True)
    for name in ("tools/gpu_check.sh", "tools/gpu_bench.sh", "train_gpt.py"):
        shutil.copy(ROOT / name, repo / name)
    if prepared:
        (repo / ".gpu" / "data").mkdir(parents=True)
        (repo / ".gpu" / "data8192").mkdir()
    return repo


def test_dry_run_plans_import_to_stack_within_the_budget_and_touches_nothing(tmp_path):
    repo = kit_copy(tmp_path, prepared=False)
    done = check(["--dry-run"], tmp_path, timeout=60, script=repo / "tools" / "gpu_check.sh", NPROC="1", PEER_SCRIPT="/x/baseline.py")
    assert done.returncode == 0, done.stderr
    plan = {name: (e, fits, ends) for name, (e, fits, ends, _) in plan_lines(done.stdout).items()}
    assert list(plan) == ["import", *STAGES]
    # The header's arithmetic: 10 + 115 + 175 = 300 s; stack's 130 + 120 = 250 s would end at 550 s, past the
    # 525 s that the 540 s budget leaves after 15 s for the table and tarball, so it trains 95 s.
    assert [plan[s][0] for s in plan] == [10, 115, 175, 225, 380, 140]
    assert plan["stack"] == (225, "yes", 525) and plan["stack_eval"][1] == "no" and plan["peer"][1] == "no"
    commands = [line for line in done.stdout.splitlines() if line.startswith("+ cd ")]
    assert len(commands) == 5
    smoke, plain, stack, stack_eval, peer = commands
    work = tmp_path / "work"
    assert f"DATA_PATH={work}/smoke_data " in smoke and "ITERATIONS=5 COMPILE_WARMUP_STEPS=2 VAL_LOSS_EVERY=0 TTT=off EVAL_STRIDE=0" in smoke
    assert "MAX_WALLCLOCK_SECONDS=0 " in smoke and "MAX_WALLCLOCK_SECONDS=60 " in plain and "NUM_LAYERS=9 MODEL_DIM=512" in plain
    assert "MAX_WALLCLOCK_SECONDS=95 " in stack and "MODEL_DIM" not in stack and "TTT=" not in stack
    assert f"EVAL_ARTIFACT={work}/stack/stack.pgolf EVAL_STRIDE=64 TTT=doc" in stack_eval
    assert peer.split(">")[0].rstrip().endswith("/x/baseline.py") and "MAX_WALLCLOCK_SECONDS=60 " in peer
    assert not work.exists()
    # Without .gpu/ here, the challenge's paths: sp8192 for the smoke (its tokenizer; its shards are cut from
    # DATA_PATH), stack and stack_eval, sp1024 for plain and the peer; plain pins the baseline's vocabulary.
    sp8192 = (str(repo / "data/datasets/fineweb10B_sp8192"), str(repo / "data/tokenizers/fineweb_8192_bpe.model"))
    sp1024 = (str(repo / "data/datasets/fineweb10B_sp1024"), str(repo / "data/tokenizers/fineweb_1024_bpe.model"))
    pairs = {name: (env_of(c)["DATA_PATH"], env_of(c)["TOKENIZER_PATH"]) for name, c in zip(STAGES, commands)}
    assert pairs == {"smoke": (f"{work}/smoke_data", sp8192[1]), "plain": sp1024, "stack": sp8192, "stack_eval": sp8192, "peer": sp1024}
    assert f"+ smoke data: links to {sp8192[0]}/fineweb_train_*.bin" in done.stdout
    assert env_of(plain)["VOCAB_SIZE"] == "1024" and "VOCAB_SIZE" not in env_of(stack) and "WARMDOWN_ITERS" not in done.stdout


# The header's sizing on a GPU: each stage's expected seconds apart from training, the 15 s reserve, and
# GPU_CHECK_MIN_SECONDS' default.
UNTRAINED = {"import": 10, "smoke": 115, "plain": 115, "stack": 130, "stack_eval": 380, "peer": 80}
RESERVE, MIN_SECONDS = 15, 30


@settings(max_examples=12, deadline=None)
@given(budget=st.integers(100, 1500), plain_s=st.integers(1, 200), stack_s=st.integers(1, 300))
def test_the_plan_fits_the_budget_and_plain_never_crowds_out_stack(tmp_path_factory, budget, plain_s, stack_s):
    tmp_path = tmp_path_factory.mktemp("plan")
    done = check(["--dry-run"], tmp_path, timeout=60, NPROC="1", PEER_SCRIPT="/x/baseline.py", GPU_CHECK_BUDGET=str(budget),
                 GPU_CHECK_PLAIN_SECONDS=str(plain_s), GPU_CHECK_STACK_SECONDS=str(stack_s))
    assert done.returncode == 0, done.stderr
    plan, planned = plan_lines(done.stdout), {"plain": plain_s, "stack": stack_s, "peer": 60}
    at = 0
    for name, (expected, fits, ends, train) in plan.items():
        if fits == "yes":
            assert expected == UNTRAINED[name] + train and ends == at + expected  # one after another, as they run
            at = ends
        if name in planned and fits == "yes":  # the planned seconds, or fewer but at least the minimum
            assert train == planned[name] or MIN_SECONDS <= train < planned[name]
    assert at <= budget - RESERVE
    if budget - RESERVE >= UNTRAINED["import"] + UNTRAINED["smoke"]:
        left = budget - RESERVE - UNTRAINED["import"] - UNTRAINED["smoke"]  # after the smoke
        stack_least = UNTRAINED["stack"] + min(MIN_SECONDS, stack_s)
        assert (plan["stack"][1] == "yes") == (left >= stack_least)  # whatever plain asked for
        assert (plan["plain"][1] == "yes") == (left - stack_least - UNTRAINED["plain"] >= min(MIN_SECONDS, plain_s))


def test_plain_is_shortened_to_keep_room_for_stack_and_both_finish(tmp_path):
    # CPU sizing: plain 20 + s, stack 25 + s, minimum 1 s. Plain asks for 100 s; the 75 s budget leaves it
    # what is left after the import, less stack's 25 + 1 s and its own 20 s; stack then trains its 2 s.
    done = check(["--cpu-smoke", str(tmp_path / "out")], tmp_path, GPU_CHECK_BUDGET="75", GPU_CHECK_STAGES="plain stack",
                 GPU_CHECK_PLAIN_SECONDS="100", GPU_CHECK_STACK_SECONDS="2")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    m = re.search(r"^gpu_check shorten:plain seconds:(\d+) planned_s:100 left_s:(\d+)$", done.stdout, re.M)
    assert m and int(m.group(1)) == int(m.group(2)) - (25 + 1) - 20 >= 1, done.stdout[-3000:]
    assert "gpu_check shorten:stack" not in done.stdout
    stages = stage_lines(done.stdout)
    assert stages["plain"]["status"] == stages["stack"]["status"] == "ok"
    logs = {name: (tmp_path / "work" / name / f"{name}.txt").read_text() for name in ("plain", "stack")}
    assert f" max_wallclock_seconds:{float(m.group(1))} " in logs["plain"] and " max_wallclock_seconds:2.0 " in logs["stack"]
    assert all("final val_bpb:" in log for log in logs.values())


def test_on_the_prepared_machine_the_defaults_are_the_gpu_folders(tmp_path):
    repo = kit_copy(tmp_path, prepared=True)
    done = check(["--dry-run"], tmp_path, timeout=60, script=repo / "tools" / "gpu_check.sh", NPROC="1", PEER_SCRIPT="/x/baseline.py")
    assert done.returncode == 0, done.stderr
    commands = [line for line in done.stdout.splitlines() if line.startswith("+ cd ")]
    pairs = {name: (env_of(c)["DATA_PATH"], env_of(c)["TOKENIZER_PATH"]) for name, c in zip(STAGES, commands)}
    sp8192 = (f"{repo}/.gpu/data8192", f"{repo}/.gpu/data8192/fineweb_8192_bpe.model")
    sp1024 = (f"{repo}/.gpu/data", f"{repo}/.gpu/data/fineweb_1024_bpe.model")
    assert pairs == {"smoke": (f"{tmp_path}/work/smoke_data", sp8192[1]), "plain": sp1024, "stack": sp8192,
                     "stack_eval": sp8192, "peer": sp1024}
    assert f"+ smoke data: links to {sp8192[0]}/fineweb_train_*.bin" in done.stdout


def test_the_device_command_in_the_header_fits_the_run_tool(tmp_path):
    header = CHECK.read_text().split("\nset -uo pipefail", 1)[0]
    lines = [line for line in header.splitlines() if "bash tools/gpu_check.sh \"$OUT\"" in line and "pip install" in line]
    assert len(lines) == 1
    command = lines[0].removeprefix("#").strip()
    assert len(command) < 2000 and "--target /tmp/site .gpu/whl/*.whl" in command
    exported = dict(w.split("=", 1) for w in command.split(" export ", 1)[1].split(" || ")[0].split())
    assert {k: v for k, v in exported.items() if "PATH_" in k or k.endswith("_PATH")} == {
        "DATA_PATH": "$PWD/.gpu/data8192", "TOKENIZER_PATH": "$PWD/.gpu/data8192/fineweb_8192_bpe.model",
        "DATA_PATH_1024": "$PWD/.gpu/data", "TOKENIZER_PATH_1024": "$PWD/.gpu/data/fineweb_1024_bpe.model"}
    help_text = subprocess.run(["bash", str(CHECK), "--help"], capture_output=True, text=True, timeout=30)
    assert help_text.returncode == 0 and command in help_text.stdout and "set -uo" not in help_text.stdout
