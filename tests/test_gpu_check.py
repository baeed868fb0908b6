"""tools/gpu_check.sh: one prepared GPU command of at most 9 minutes, rehearsed on CPU (--cpu-smoke).

Every verdict here is independent of the machine's speed: the real runs count time on GPU_CHECK_CLOCK=expected
(each stage counts its expected seconds, or the ones a test gives), so what fits, what is shortened and what is
skipped follow from the arithmetic alone, and every real run's own limit is far above what it takes."""

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

from conftest import ROOT, short_kit_data

sys.path.insert(0, str(ROOT / "tools"))
import import_check  # noqa: E402

CHECK = ROOT / "tools" / "gpu_check.sh"
STAGES = ["bench", "smoke", "plain", "stack", "stack_eval", "peer"]
DEFAULT = ["bench", "smoke", "stack", "peer"]

# The challenge baseline's stdout (formats as in tests/test_bench.py), recording the wall clock it was given
# and whether compilation was switched off for it.
STUB_PEER = textwrap.dedent("""\
    import os
    open("seen_seconds.txt", "w").write(os.environ["MAX_WALLCLOCK_SECONDS"])
    open("seen_compile.txt", "w").write(f"{os.environ.get('TORCH_COMPILE_DISABLE')} {os.environ.get('COMPILE')}")
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
            and k not in ("OUT", "DATA_PATH", "TOKENIZER_PATH", "DATA_PATH_1024", "TOKENIZER_PATH_1024", "COMPILE", "CC", "CXX")}
    full["PATH"] = os.path.dirname(sys.executable) + os.pathsep + full.get("PATH", "")
    full["GPU_CHECK_WORK"] = str(tmp_path / "work")
    if "--dry-run" not in args:
        full["GPU_CHECK_CLOCK"] = "expected"  # a test's verdict must not depend on how fast this machine is
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
        r"^gpu_check plan stage:(\S+) expected_s:(\d+) fits:(yes|no) ends_s:(\d+) train_s:(\d+) compile_s:\d+$", stdout, re.M)}


def plan_total(stdout: str) -> dict:
    m = re.search(r"^gpu_check plan total_expected_s:(\d+) fitting_s:(\d+) budget_s:(\d+) reserve_s:(\d+) spare_s:(-?\d+)$", stdout, re.M)
    return dict(zip(("total", "fitting", "budget", "reserve", "spare"), map(int, m.groups())))


def tar_texts(path) -> dict:
    with tarfile.open(path) as tar:
        return {m.name.removeprefix("./"): tar.extractfile(m).read().decode() for m in tar.getmembers() if m.isfile()}


def test_cpu_rehearsal_runs_the_default_plan_and_packs_its_logs_and_tables(tmp_path):
    peer = tmp_path / "peer_train_gpt.py"
    peer.write_text(STUB_PEER)
    out = tmp_path / "out"
    done = check(["--cpu-smoke", str(out)], tmp_path, PEER_SCRIPT=str(peer), GPU_CHECK_STACK_SECONDS="2", GPU_CHECK_PEER_SECONDS="2",
                 **short_kit_data(tmp_path))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    stages = stage_lines(done.stdout)
    assert list(stages) == ["import", *STAGES]  # in this order
    assert [s for s in stages if stages[s]["kind"] == "stage"] == ["import", *DEFAULT]
    assert all(stages[s]["status"] == "ok" and stages[s]["compile"] == "on" for s in ["import", *DEFAULT])
    assert stages["plain"]["reason"] == stages["stack_eval"]["reason"] == "not_selected"
    assert "gpu_check compile:on reason:none stage:import" in done.stdout
    # The expected clock: the smoke counts its 30 s, 10 fixed + 20 cold, so the scale is exactly 1.
    assert re.search(r"^gpu_check calibrate scale:1\.000 smoke_s:30 smoke_expected_s:30 cold_s:20$", done.stdout, re.M)
    assert re.search(r"^gpu_check done status:ok seconds:\d+ failed:none compile:on reason:none$", done.stdout, re.M)

    assert sorted(p.name for p in out.iterdir()) == ["gpu_check.tgz", "summary.txt"]
    texts = tar_texts(out / "gpu_check.tgz")
    for stage in ("smoke", "stack", "peer"):
        assert f"{stage}/{stage}.txt" in texts and f"{stage}/bench_env.txt" in texts
    assert {"gpu_check.txt", "import.txt", "bench.txt", "bench.json", "summary.txt"} <= set(texts)
    assert not any(name.endswith((".pgolf", ".pt", ".ptz", ".bin")) for name in texts)  # logs only: small
    assert (tmp_path / "work" / "stack" / "stack.pgolf").is_file()  # the artifacts stay in the work folder
    summary = (out / "summary.txt").read_text()
    assert texts["summary.txt"] == summary and "| run | status |" in summary and "gpu_check stage:stack status:ok" in summary
    assert texts["import.txt"].startswith("import_check python:") and "zstandard:" in texts["import.txt"]
    assert re.search(r"^compile_check device:cpu .* probe:ok .* compile:on reason:none$", texts["import.txt"], re.M)
    # The attention micro-benchmark: one line per kernel, Newton-Schulz, the fastest; its table in the summary.
    kernels = re.findall(r"^attn_bench kernel:(\S+) .*status:(ok|unavailable)", texts["bench.txt"], re.M)
    assert [k for k, _ in kernels] == ["sdpa_flash", "sdpa_cudnn", "sdpa_efficient", "fa3", "fa4"]
    assert "attn_bench newton_schulz shape:" in texts["bench.txt"] and "attn_bench fastest:" in texts["bench.txt"]
    assert "| kernel (cpu, bf16" in summary and "fastest attention kernel:" in summary

    runs = {r["name"]: r for r in json.loads(texts["bench.json"])["runs"]}
    assert sorted(runs) == ["peer", "smoke", "stack"] and all(r["status"] == "ok" for r in runs.values())
    smoke, stack = texts["smoke/smoke.txt"], texts["stack/stack.txt"]
    # The smoke: 5 steps after 4 warm-up steps, no TTT, no sliding windows, and only the first 4,096 validation tokens.
    assert runs["smoke"]["steps"] == 5 and runs["smoke"]["val_targets"] == 4095
    assert " iterations:5 " in smoke and " ttt:off " in smoke and " eval_stride:0 " in smoke and " compile_warmup_steps:4 " in smoke
    assert all(f" {kv} " in stack for kv in ("val_loss_every:0", "compile_warmup_steps:4", "train_log_every:20"))
    assert (tmp_path / "work" / "peer" / "peer_work" / "seen_seconds.txt").read_text() == "2"
    assert (tmp_path / "work" / "peer" / "peer_work" / "seen_compile.txt").read_text() == "None None"  # compilation stays on
    # The peer's measured step (300 ms) converts ours to 8xH100 through the baseline's published 43.54 ms.
    bench = json.loads(texts["bench.json"])
    assert bench["ratios"]["peer_to_8xh100"] == pytest.approx(43.54 / 300)
    assert runs["stack"]["via_peer_step_ms_8xh100"] == pytest.approx(runs["stack"]["step_avg_ms"] * 43.54 / 300)
    assert "step ms 8xH100 via peer" in summary


def test_a_stage_that_does_not_fit_the_budget_is_skipped_and_logged(tmp_path):
    # The import counts 516 of the 540 s: 9 s are left before the 15 s for the table. Compilation off: smoke 10 s,
    # plain 20 + 1 + stack's 16, stack 15 + 1; none fits.
    done = check(["--cpu-smoke", str(tmp_path / "out")], tmp_path, GPU_CHECK_CLOCK="expected import:516", GPU_CHECK_COMPILE="0",
                 GPU_CHECK_STAGES="smoke plain stack stack_eval")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    stages = stage_lines(done.stdout)
    assert stages["import"]["status"] == "ok" and "gpu_check compile:off reason:asked stage:import" in done.stdout
    assert {name: (stages[name]["reason"], stages[name].get("expected_s"), stages[name].get("left_s")) for name in STAGES} == {
        "bench": ("not_selected", None, None), "smoke": ("budget", "10", "9"), "plain": ("budget", "37", "9"),
        "stack": ("budget", "16", "9"), "stack_eval": ("no_stack_artifact", None, None), "peer": ("not_selected", None, None)}
    runs = {r["name"]: r for r in json.loads(tar_texts(tmp_path / "out" / "gpu_check.tgz")["bench.json"])["runs"]}
    assert runs["plain"]["status"] == "skipped: budget" and runs["stack_eval"]["status"] == "skipped: no stack artifact"


def test_a_smoke_that_fails_with_a_configuration_error_skips_every_later_stage(tmp_path):
    out = tmp_path / "out"
    done = check(["--cpu-smoke", str(out)], tmp_path, TERNARY_SCALE="bogus", GPU_CHECK_STAGES="smoke stack")  # reaches every run
    assert done.returncode == 1
    stages = stage_lines(done.stdout)
    assert stages["smoke"]["status"] == "fail" and stages["import"]["status"] == "ok"
    assert stages["stack"]["reason"] == "smoke_failed" and "failed:smoke compile:on" in done.stdout
    assert "gpu_check compile:off" not in done.stdout  # train_gpt.py's own error line: not a compile failure
    texts = tar_texts(out / "gpu_check.tgz")
    assert "TERNARY_SCALE" in texts["smoke/smoke.txt"] and "| smoke | failed" in (out / "summary.txt").read_text()


def test_a_broken_compiler_turns_compilation_off_and_every_run_goes_on_eagerly(tmp_path):
    # The rehearsal of the header: no working C or C++ compiler. COMPILE=1 reaches every run from here; a run
    # (the stub peer, beside the caller's COMPILE=1) shows gpu_check's COMPILE=0 and TORCH_COMPILE_DISABLE=1.
    # (The next test runs the stack itself eagerly.)
    peer = tmp_path / "peer_train_gpt.py"
    peer.write_text(STUB_PEER)
    out = tmp_path / "out"
    done = check(["--cpu-smoke", str(out)], tmp_path, CC="/bin/false", CXX="/bin/false", COMPILE="1", PEER_SCRIPT=str(peer),
                 GPU_CHECK_STAGES="peer", GPU_CHECK_PEER_SECONDS="1")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]  # a probe that fails is no failure
    assert re.search(r"^compile_check device:cpu cc:none .* probe:fail .* compile:off reason:no_c_compiler error:\S+", done.stdout, re.M)
    assert "gpu_check compile:off reason:no_c_compiler stage:import" in done.stdout
    stages = stage_lines(done.stdout)
    assert stages["peer"]["status"] == "ok" and stages["peer"]["compile"] == "off"
    assert (tmp_path / "work" / "peer" / "peer_work" / "seen_compile.txt").read_text() == "1 0"
    summary = (out / "summary.txt").read_text()
    assert re.search(r"^gpu_check done status:ok seconds:\d+ failed:none compile:off reason:no_c_compiler$", summary, re.M)


def test_a_smoke_that_fails_compiled_leaves_the_stack_to_run_eagerly(tmp_path):
    # The probe compiles; the smoke alone gets a broken compiler (GPU_CHECK_SMOKE_VARS), as a GPU whose inductor
    # breaks on the real model would.
    out = tmp_path / "out"
    done = check(["--cpu-smoke", str(out)], tmp_path, GPU_CHECK_STAGES="smoke stack", GPU_CHECK_STACK_SECONDS="1",
                 GPU_CHECK_SMOKE_VARS="COMPILE=1 CC=/bin/false CXX=/bin/false", **short_kit_data(tmp_path))
    assert done.returncode == 1, done.stdout[-4000:] + done.stderr[-2000:]
    stages = stage_lines(done.stdout)
    assert "gpu_check compile:on reason:none stage:import" in done.stdout
    assert stages["smoke"]["status"] == "fail" and stages["smoke"]["compile"] == "on"
    assert "gpu_check compile:off reason:smoke_failed stage:smoke" in done.stdout and "gpu_check calibrate" not in done.stdout
    assert stages["stack"]["status"] == "ok" and stages["stack"]["compile"] == "off"
    assert "InductorError" in (tmp_path / "work" / "smoke" / "smoke.txt").read_text()
    assert re.search(r"^gpu_check done status:fail seconds:\d+ failed:smoke compile:off reason:smoke_failed$",
                     (out / "summary.txt").read_text(), re.M)


SLEEPY_PEER = textwrap.dedent("""\
    import os, time
    open(os.environ["PID_FILE"], "w").write(str(os.getpid()))
    print("world_size:1 grad_accum_steps:8", flush=True)
    time.sleep(300)
""")


def test_a_stage_that_overruns_is_stopped_at_the_budget_and_recorded(tmp_path):
    # The import counts 77 of 100 s: 8 s are left before the 15 s reserve, and the peer (assumed 1 + 1 s) gets them.
    peer, pid_file = tmp_path / "sleepy.py", tmp_path / "peer.pid"
    peer.write_text(SLEEPY_PEER)
    done = check(["--cpu-smoke", str(tmp_path / "out")], tmp_path, GPU_CHECK_BUDGET="100", GPU_CHECK_CLOCK="expected import:77",
                 GPU_CHECK_COMPILE="0", GPU_CHECK_ASSUME="peer:1/0/0", GPU_CHECK_STAGES="peer", GPU_CHECK_PEER_SECONDS="1",
                 PEER_SCRIPT=str(peer), PID_FILE=str(pid_file))
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    stages = stage_lines(done.stdout)
    assert stages["peer"]["status"] == "fail" and stages["peer"]["exit_status"] == "124" and stages["peer"]["seconds"] == "8"
    assert all(stages[name]["reason"] == "not_selected" for name in STAGES[:-1])
    assert re.search(r"^gpu_check done status:fail seconds:85 failed:peer compile:off reason:asked$", done.stdout, re.M)
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
    (["out"], {"GPU_CHECK_BENCH_SECONDS": "x"}, "GPU_CHECK_BENCH_SECONDS=x"),
    (["out"], {"GPU_CHECK_SMOKE_LIMIT": "-1"}, "GPU_CHECK_SMOKE_LIMIT=-1"),
    (["out"], {"GPU_CHECK_COMPILE": "1"}, "GPU_CHECK_COMPILE=1"),
    (["out"], {"GPU_CHECK_ASSUME": "stack:1/2"}, "GPU_CHECK_ASSUME entry 'stack:1/2'"),
    (["out"], {"GPU_CHECK_CLOCK": "fast"}, "GPU_CHECK_CLOCK=fast"),
    (["out"], {"GPU_CHECK_CLOCK": "real smoke:5"}, "GPU_CHECK_CLOCK entry 'smoke:5'"),
    (["out"], {"GPU_CHECK_SMOKE_VARS": "COMPILE"}, "GPU_CHECK_SMOKE_VARS: 'COMPILE' is not VAR=value"),
    (["out"], {"GPU_CHECK_STAGES": "smoke ttt"}, "unknown stage 'ttt'"),
    (["out"], {"GPU_CHECK_SMOKE_VAL_TOKENS": "1"}, "GPU_CHECK_SMOKE_VAL_TOKENS=1"),
    (["out"], {"DATA_PATH": "/nonexistent"}, "no fineweb_val_*.bin in DATA_PATH=/nonexistent (read by: smoke stack)"),
    (["out"], {"GPU_CHECK_STAGES": "plain", "DATA_PATH_1024": "/nonexistent"}, "no fineweb_val_*.bin in DATA_PATH_1024=/nonexistent (read by: plain)"),
    (["out"], {"GPU_CHECK_STAGES": "plain", "TOKENIZER_PATH_1024": "/x.model"}, "no tokenizer at TOKENIZER_PATH_1024=/x.model (read by: plain)"),
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
    done = check(["--cpu-smoke", str(tmp_path / "out")], tmp_path, GPU_CHECK_STAGES="stack_eval", GPU_CHECK_COMPILE="0",
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


def commands_of(stdout: str) -> dict:
    """{stage: its printed gpu_bench.sh command}, in the order printed."""
    return {m.group(1): m.group(0) for m in re.finditer(r"^\+ cd .* RUN_ID=bench_(\S+) .*$", stdout, re.M)}


def test_dry_run_plans_the_default_stages_with_60_s_spare_and_touches_nothing(tmp_path):
    repo = kit_copy(tmp_path, prepared=False)
    done = check(["--dry-run"], tmp_path, timeout=60, script=repo / "tools" / "gpu_check.sh", NPROC="1", PEER_SCRIPT="/x/baseline.py")
    assert done.returncode == 0, done.stderr
    plan = plan_lines(done.stdout)
    # The header's table: import 15, bench 20, smoke 41 + 85, stack 96 + 30 + 85 / 2 + 45 s, peer 32 + 35 + 20 s.
    assert plan == {"import": (15, "yes", 15, 0), "bench": (20, "yes", 35, 0), "smoke": (126, "yes", 161, 0),
                    "stack": (214, "yes", 375, 45), "peer": (87, "yes", 462, 20)}
    assert plan_total(done.stdout) == {"total": 462, "fitting": 462, "budget": 540, "reserve": 15, "spare": 63}
    assert "gpu_check smoke_limit seconds:247 left_s:490" in done.stdout
    assert "+ python3 tools/import_check.py --probe-timeout 60" in done.stdout and "+ python3 tools/attn_bench.py --seconds 20" in done.stdout
    commands = commands_of(done.stdout)
    assert list(commands) == ["smoke", "stack", "peer"]
    work = tmp_path / "work"
    smoke, stack, peer = (env_of(commands[name]) for name in commands)
    assert {k: smoke[k] for k in ("ITERATIONS", "COMPILE_WARMUP_STEPS", "VAL_LOSS_EVERY", "TTT", "EVAL_STRIDE", "MAX_WALLCLOCK_SECONDS")} == {
        "ITERATIONS": "5", "COMPILE_WARMUP_STEPS": "4", "VAL_LOSS_EVERY": "0", "TTT": "off", "EVAL_STRIDE": "0", "MAX_WALLCLOCK_SECONDS": "0"}
    # gpu_check's own variables for a run reach gpu_bench.sh through its environment: its printed `+ env ...` line.
    kit_stack = dict(w.split("=", 1) for w in re.search(r"^\+ env (BENCH_OUT=\S+ BENCH_RUNS=stack .*) bash tools/gpu_bench.sh",
                                                          done.stdout, re.M).group(1).split())
    assert {k: kit_stack.get(k) for k in ("BENCH_SECONDS", "VAL_LOSS_EVERY", "COMPILE_WARMUP_STEPS", "TRAIN_LOG_EVERY", "TTT", "COMPILE")} == {
        "BENCH_SECONDS": "45", "VAL_LOSS_EVERY": "0", "COMPILE_WARMUP_STEPS": "4", "TRAIN_LOG_EVERY": "20", "TTT": None, "COMPILE": None}
    assert stack["MAX_WALLCLOCK_SECONDS"] == "45" and "MODEL_DIM" not in stack and "TTT" not in stack
    assert commands["peer"].split(">")[0].rstrip().endswith("/x/baseline.py") and peer["MAX_WALLCLOCK_SECONDS"] == "20"
    assert not work.exists()
    # Every stage: without .gpu/ here, the challenge's paths: sp8192 for the smoke (its tokenizer; its shards are
    # cut from DATA_PATH), stack and stack_eval, sp1024 for plain and the peer; plain pins the baseline's vocabulary.
    done = check(["--dry-run"], tmp_path, timeout=60, script=repo / "tools" / "gpu_check.sh", NPROC="1", PEER_SCRIPT="/x/baseline.py",
                 GPU_CHECK_STAGES=" ".join(STAGES))
    commands = commands_of(done.stdout)
    assert list(commands) == STAGES[1:]
    sp8192 = (str(repo / "data/datasets/fineweb10B_sp8192"), str(repo / "data/tokenizers/fineweb_8192_bpe.model"))
    sp1024 = (str(repo / "data/datasets/fineweb10B_sp1024"), str(repo / "data/tokenizers/fineweb_1024_bpe.model"))
    pairs = {name: (env_of(c)["DATA_PATH"], env_of(c)["TOKENIZER_PATH"]) for name, c in commands.items()}
    assert pairs == {"smoke": (f"{work}/smoke_data", sp8192[1]), "plain": sp1024, "stack": sp8192, "stack_eval": sp8192, "peer": sp1024}
    assert f"+ smoke data: links to {sp8192[0]}/fineweb_train_*.bin" in done.stdout
    assert "NUM_LAYERS=9 PRELUDE_LAYERS=0 CODA_LAYERS=0 MODEL_DIM=512" in commands["plain"] and env_of(commands["plain"])["VOCAB_SIZE"] == "1024"
    assert f"EVAL_ARTIFACT={work}/stack/stack.pgolf EVAL_STRIDE=64 TTT=doc" in commands["stack_eval"] and "WARMDOWN_ITERS" not in done.stdout
    plan = plan_lines(done.stdout)
    assert plan["plain"][1] == "yes" and plan["stack"][1] == "yes" and plan["stack_eval"][1] == "no"  # plain keeps room for stack
    # GPU_CHECK_COMPILE=0: no probe, no compile seconds, and every run's gpu_bench.sh has compilation off.
    done = check(["--dry-run"], tmp_path, timeout=60, script=repo / "tools" / "gpu_check.sh", NPROC="1", PEER_SCRIPT="/x/baseline.py",
                 GPU_CHECK_COMPILE="0")
    assert "+ python3 tools/import_check.py --probe-timeout 60 --no-probe" in done.stdout and "gpu_check calibrate" not in done.stdout
    assert [e for e, _, _, _ in plan_lines(done.stdout).values()] == [5, 20, 41, 96 + 45, 32 + 20]
    kits = re.findall(r"^\+ env BENCH_OUT=\S+ BENCH_RUNS=(\S+) PEER_SCRIPT= (COMPILE=0 TORCH_COMPILE_DISABLE=1 )?", done.stdout, re.M)
    assert kits == [(name, "COMPILE=0 TORCH_COMPILE_DISABLE=1 ") for name in ("smoke", "stack", "peer")]


# The header's sizing on a GPU, after a compiled smoke that took its expected seconds: each stage's expected
# seconds apart from training, the 15 s reserve, and GPU_CHECK_MIN_SECONDS' default.
UNTRAINED = {"import": 15, "bench": 20, "smoke": 126, "plain": 88, "stack": 169, "peer": 67}
RESERVE, MIN_SECONDS = 15, 30


@settings(max_examples=10, deadline=None)
@given(budget=st.integers(100, 1500), plain_s=st.integers(1, 200), stack_s=st.integers(1, 300))
def test_the_plan_fits_the_budget_and_plain_never_crowds_out_stack(tmp_path_factory, budget, plain_s, stack_s):
    tmp_path = tmp_path_factory.mktemp("plan")
    done = check(["--dry-run"], tmp_path, timeout=60, NPROC="1", PEER_SCRIPT="/x/baseline.py", GPU_CHECK_BUDGET=str(budget),
                 GPU_CHECK_STAGES="bench smoke plain stack peer", GPU_CHECK_PLAIN_SECONDS=str(plain_s), GPU_CHECK_STACK_SECONDS=str(stack_s))
    assert done.returncode == 0, done.stderr
    plan, planned = plan_lines(done.stdout), {"plain": plain_s, "stack": stack_s, "peer": 20}
    at = 0
    for name, (expected, fits, ends, train) in plan.items():
        if fits == "yes":
            assert expected == UNTRAINED[name] + train and ends == at + expected  # one after another, as they run
            at = ends
        if name in planned and fits == "yes":  # the planned seconds, or fewer but at least the minimum
            assert train == planned[name] or MIN_SECONDS <= train < planned[name]
    assert at <= budget - RESERVE and plan_total(done.stdout)["fitting"] == at
    before_smoke = UNTRAINED["import"] + UNTRAINED["bench"]
    if budget - RESERVE - before_smoke >= UNTRAINED["smoke"]:
        left = budget - RESERVE - before_smoke - UNTRAINED["smoke"]  # after the smoke
        stack_least = UNTRAINED["stack"] + min(MIN_SECONDS, stack_s)
        assert (plan["stack"][1] == "yes") == (left >= stack_least)  # whatever plain asked for
        assert (plan["plain"][1] == "yes") == (left - stack_least - UNTRAINED["plain"] >= min(MIN_SECONDS, plain_s))


@settings(max_examples=10, deadline=None)
@given(smoke_s=st.integers(1, 900))
def test_whatever_the_smoke_takes_the_stack_runs_and_at_its_expected_time_all_fits_with_60_s_spare(tmp_path_factory, smoke_s):
    tmp_path = tmp_path_factory.mktemp("plan")
    done = check(["--dry-run"], tmp_path, timeout=60, NPROC="1", PEER_SCRIPT="/x/baseline.py", GPU_CHECK_CLOCK=f"expected smoke:{smoke_s}")
    assert done.returncode == 0, done.stderr
    plan = plan_lines(done.stdout)
    limit = int(re.search(r"^gpu_check smoke_limit seconds:(\d+) ", done.stdout, re.M).group(1))
    ends = {name: ends for name, (_, fits, ends, _) in plan.items() if fits == "yes"}
    assert ends["smoke"] == 35 + min(smoke_s, limit) and max(ends.values()) <= 540 - RESERVE
    assert plan["stack"][1] == "yes" and plan["stack"][3] >= MIN_SECONDS  # the competition default always runs
    slow = smoke_s > limit
    assert ("gpu_check compile:off reason:smoke_timeout stage:smoke" in done.stdout) == slow
    assert ("gpu_check calibrate" in done.stdout) == (not slow)
    if smoke_s <= UNTRAINED["smoke"]:  # as assumed, or faster: every stage, 60 s to spare
        assert all(fits == "yes" for _, fits, _, _ in plan.values()) and plan_total(done.stdout)["spare"] >= 60


def test_plain_is_shortened_to_keep_room_for_stack_and_both_get_their_seconds(tmp_path):
    # The plan plays the run's own decisions (the same functions, on the expected clock). Compilation off: plain
    # 38 s and stack 96 s apart from training. Plain asks for 100 s; what is left after import (5) and bench (20)
    # less stack's 96 + 45 s and its own 38 s is 50 s; stack then trains its 45 s.
    done = check(["--dry-run"], tmp_path, timeout=60, NPROC="1", GPU_CHECK_COMPILE="0", GPU_CHECK_STAGES="bench plain stack",
                 GPU_CHECK_BUDGET=str(15 + 5 + 20 + 38 + 50 + 96 + 45), GPU_CHECK_PLAIN_SECONDS="100", GPU_CHECK_MIN_SECONDS="45")
    assert done.returncode == 0, done.stderr
    assert re.search(r"^gpu_check shorten:plain seconds:50 planned_s:100 left_s:229$", done.stdout, re.M)
    assert "gpu_check shorten:stack" not in done.stdout
    assert plan_lines(done.stdout) == {"import": (5, "yes", 5, 0), "bench": (20, "yes", 25, 0), "plain": (88, "yes", 113, 50),
                                       "stack": (141, "yes", 254, 45)}
    commands = commands_of(done.stdout)
    assert env_of(commands["plain"])["MAX_WALLCLOCK_SECONDS"] == "50" and env_of(commands["stack"])["MAX_WALLCLOCK_SECONDS"] == "45"


def test_on_the_prepared_machine_the_defaults_are_the_gpu_folders(tmp_path):
    repo = kit_copy(tmp_path, prepared=True)
    done = check(["--dry-run"], tmp_path, timeout=60, script=repo / "tools" / "gpu_check.sh", NPROC="1", PEER_SCRIPT="/x/baseline.py",
                 GPU_CHECK_STAGES="smoke plain stack peer")
    assert done.returncode == 0, done.stderr
    pairs = {name: (env_of(c)["DATA_PATH"], env_of(c)["TOKENIZER_PATH"]) for name, c in commands_of(done.stdout).items()}
    sp8192 = (f"{repo}/.gpu/data8192", f"{repo}/.gpu/data8192/fineweb_8192_bpe.model")
    sp1024 = (f"{repo}/.gpu/data", f"{repo}/.gpu/data/fineweb_1024_bpe.model")
    assert pairs == {"smoke": (f"{tmp_path}/work/smoke_data", sp8192[1]), "plain": sp1024, "stack": sp8192, "peer": sp1024}
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


@pytest.mark.parametrize("cc, python_h, probe, reason", [
    ("/usr/bin/cc", True, ("ok", 1.0, ""), "none"),
    (None, True, ("fail", 1.0, "InvalidCxxCompiler: no"), "no_c_compiler"),
    ("/usr/bin/cc", False, ("fail", 1.0, "x"), "no_python_h"),
    ("/usr/bin/cc", True, ("fail", 1.0, "RuntimeError: y"), "probe_failed"),
    ("/usr/bin/cc", True, ("timeout", 60.0, "over 60 s"), "probe_timeout"),
    (None, True, ("ok", 1.0, ""), "none"),  # the probe decides: a compiler found elsewhere is a working one
])
def test_the_import_check_names_the_first_broken_part_of_the_compile_path(monkeypatch, capsys, cc, python_h, probe, reason):
    monkeypatch.setattr(import_check, "c_compiler", lambda: cc)
    monkeypatch.setattr(import_check, "probe", lambda device, timeout: probe)
    if not python_h:
        monkeypatch.setattr(import_check.sysconfig, "get_paths", lambda: {"include": "/nonexistent"})
    assert import_check.main([]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith("compile_check device:cpu ") and f" probe:{probe[0]} " in line
    assert f" compile:{'on' if probe[0] == 'ok' else 'off'} reason:{reason}" in line
    assert (" error:" in line) == bool(probe[2])
    import_check.main(["--no-probe"])
    assert capsys.readouterr().out.splitlines()[-1].endswith("probe:skipped probe_s:0.0 compile:off reason:asked")
