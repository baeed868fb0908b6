"""tools/gpu_bench.sh and tools/project.py: the one-GPU measuring kit and its 8xH100 projections."""

import itertools
import json
import math
import os
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, strategies as st

from conftest import ROOT, short_kit_data

sys.path.insert(0, str(ROOT / "tools"))
import project  # noqa: E402

KIT = ROOT / "tools" / "gpu_bench.sh"

# What the challenge baseline prints to stdout (formats read from its source), as a stub PEER_SCRIPT:
# it also records the wall clock it was given and the folder it ran in.
STUB_PEER = textwrap.dedent("""\
    import json, os
    json.dump({"max_wallclock_seconds": os.environ["MAX_WALLCLOCK_SECONDS"], "cwd": os.getcwd(),
               "world_size": os.environ.get("WORLD_SIZE")}, open("seen.json", "w"))
    open("final_model.pt", "wb").write(b"weights")
    print("model_params:17059912")
    print("world_size:1 grad_accum_steps:8")
    print("train_batch_tokens:524288 train_seq_len:1024 iterations:20000 warmup_steps:20 max_wallclock_seconds:180.000")
    print("warmup_step:1/20")
    print("val_loader:shards pattern=/d/fineweb_val_*.bin tokens:1040297")
    print("step:1/20000 train_loss:6.9000 train_time:400ms step_avg:400.00ms")
    print("step:600/20000 val_loss:2.0000 val_bpb:1.2000 train_time:180000ms step_avg:300.00ms")
    print("stopping_early: wallclock_cap train_time:180000ms step:600/20000")
    print("peak memory allocated: 10240 MiB reserved: 10500 MiB")
    print("Total submission size int8+zlib: 15800000 bytes")
    print("final_int8_zlib_roundtrip val_loss:2.0000 val_bpb:1.2000 eval_time:1500ms")
    print("final_int8_zlib_roundtrip_exact val_loss:2.00000000 val_bpb:1.20000000")
""")


DATA_VARS = ("DATA_PATH", "TOKENIZER_PATH", "DATA_PATH_1024", "TOKENIZER_PATH_1024")
# The baseline's recipe wherever the competition defaults differ (vocabulary, embedding, U-Net skips, Muon, warm-down).
BASELINE_PINS = ["VOCAB_SIZE=1024", "EMBED_DIM=0", "UNET_SKIPS=1", "MUON_BACKEND_STEPS=5", "MUON_ROW_NORM=0", "WARMDOWN_FRAC=0.087"]


def kit(args, tmp_path, **env):
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_", "BENCH_")) and k not in DATA_VARS}
    full["PATH"] = os.path.dirname(sys.executable) + os.pathsep + full.get("PATH", "")
    full.update(env)
    return subprocess.run(["bash", str(KIT), *args], env=full, cwd=tmp_path, capture_output=True, text=True, timeout=600)


def ours_log(step_avg, world, val_tokens, eval_ms, batch=524288, bpb=1.25):
    return "\n".join([
        "config profile:competition reason:CUDA found: competition shape",
        f"device:cuda world_size:{world} gpu:NVIDIA_H100_80GB_HBM3 torch:2.11.0+cu130",
        f"hyperparameters run_id:r seed:1 train_batch_tokens:{batch} model_dim:768",
        f"val_tokens:{val_tokens} val_bytes:{val_tokens * 2}",
        f"step:1/20000 train_loss:6.9000 train_time:{step_avg:.0f}ms step_avg:{step_avg:.2f}ms",
        f"step:100/20000 train_loss:3.1234 train_time:{100 * step_avg:.0f}ms step_avg:{step_avg:.2f}ms",
        "peak memory allocated:12345MiB reserved:23456MiB",
        "artifact path:x.pgolf bytes_model:14900000 bytes_code:100000 bytes_total:15000000",
        f"final_roundtrip val_loss:2.0 val_bpb:{bpb + 0.02:.8f} eval_time:{eval_ms[0]}ms",
        f"final_sliding val_loss:2.0 val_bpb:{bpb + 0.01:.8f} stride:64 eval_time:{eval_ms[1]}ms",
        f"final_ttt val_loss:2.0 val_bpb:{bpb:.8f} mode:chunk eval_time:{eval_ms[2]}ms",
        f"final val_bpb:{bpb:.8f}",
    ]) + "\n"


def peer_log(step_avg, world, val_tokens, eval_ms, bpb=1.2):
    return "\n".join([
        "model_params:17059912",
        f"world_size:{world} grad_accum_steps:{8 // world}",
        "train_batch_tokens:524288 train_seq_len:1024 iterations:20000 warmup_steps:20 max_wallclock_seconds:180.000",
        f"val_loader:shards pattern=/d/fineweb_val_*.bin tokens:{val_tokens}",
        f"step:200/20000 train_loss:2.9000 train_time:{200 * step_avg:.0f}ms step_avg:{step_avg:.2f}ms",
        "peak memory allocated: 10240 MiB reserved: 10500 MiB",
        "Total submission size int8+zlib: 15800000 bytes",
        f"final_int8_zlib_roundtrip val_loss:2.0000 val_bpb:{bpb:.4f} eval_time:{eval_ms}ms",
        f"final_int8_zlib_roundtrip_exact val_loss:2.00000000 val_bpb:{bpb:.8f}",
    ]) + "\n"


def test_cpu_smoke_runs_the_whole_pipeline_and_projects_every_run(tmp_path):
    out = tmp_path / "bench"
    peer = tmp_path / "peer_train_gpt.py"
    peer.write_text(STUB_PEER)
    done = kit(["--cpu-smoke"], tmp_path, BENCH_OUT=str(out), PEER_SCRIPT=str(peer), BENCH_SECONDS="4",
               BENCH_CONFIGS="ns3:MUON_BACKEND_STEPS=3", **short_kit_data(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "| run | status |" in done.stdout and "perfect scaling" in done.stdout
    bench = json.loads((out / "bench.json").read_text())
    runs = {r["name"]: r for r in bench["runs"]}
    assert list(runs) == ["peer", "plain", "stack", "stack_eval", "ns3"]
    for name in ("plain", "stack", "stack_eval", "ns3"):
        r = runs[name]
        assert r["status"] == "ok" and math.isfinite(r["final_val_bpb"]) and r["gpu"] == "cpu"
        assert all(math.isfinite(p["val_bpb"]) and p["projected_eval_s_8xh100"] > 0 for p in r["eval_phases"])
    assert [p["phase"] for p in runs["plain"]["eval_phases"]] == ["final_roundtrip"]
    assert [p["phase"] for p in runs["stack_eval"]["eval_phases"]] == ["final_roundtrip", "final_sliding", "final_ttt"]
    for name in ("plain", "stack", "ns3"):
        assert runs[name]["projected_step_ms_8xh100"] == pytest.approx(runs[name]["step_avg_ms"] / 8)
        assert runs[name]["bytes_total"] > 0 and runs[name]["steps"] >= 1
    assert "steps" not in runs["stack_eval"]
    seen = json.loads((out / "peer_work" / "seen.json").read_text())
    assert seen == {"max_wallclock_seconds": "4", "cwd": str(out / "peer_work"), "world_size": "1"}
    assert not (ROOT / "final_model.pt").exists()
    assert runs["peer"]["gpu"] == "none" and runs["peer"]["torch"]  # from bench_env.txt
    assert bench["ratios"]["plain_over_peer_step_avg"] == pytest.approx(runs["plain"]["step_avg_ms"] / 300.0)
    assert bench["ratios"]["plain_over_peer_val_bpb"] == pytest.approx(runs["plain"]["final_val_bpb"] / 1.2)


def test_a_failed_run_is_reported_and_the_kit_goes_on(tmp_path):
    out = tmp_path / "bench"
    peer = tmp_path / "peer.py"
    peer.write_text("print('world_size:1 grad_accum_steps:8')\nraise SystemExit(3)\n")
    done = kit(["--cpu-smoke"], tmp_path, BENCH_OUT=str(out), PEER_SCRIPT=str(peer), BENCH_RUNS="stack_eval peer")
    assert done.returncode == 1 and "peer failed" in done.stderr
    runs = {r["name"]: r for r in json.loads((out / "bench.json").read_text())["runs"]}
    assert runs["peer"]["status"].startswith("failed: no final line, exit status ")  # torchrun's status, not the child's
    assert runs["stack_eval"]["status"] == "skipped: no stack artifact"


@pytest.mark.parametrize("configs, complaint", [
    ("ns3", "expected name:VAR=value"),
    ("bad-name:X=1", "letters, digits and _"),
    ("ns3:MUON_BACKEND_STEPS", "is not VAR=value"),
    ("ns3:3X=1", "is not VAR=value"),
    ("stack:X=1", "built-in run"),
    ("a:X=1;a:Y=2", "used twice"),
])
def test_bad_bench_configs_stop_the_kit_before_any_run(tmp_path, configs, complaint):
    done = kit(["--cpu-smoke"], tmp_path, BENCH_OUT=str(tmp_path / "bench"), BENCH_CONFIGS=configs)
    assert done.returncode == 2 and "BENCH_CONFIGS" in done.stderr and complaint in done.stderr
    assert "==" not in done.stdout and not (tmp_path / "bench").exists()


def assignments(command: str) -> dict:
    """The VAR=value words of a printed `+ cd <dir> && env VAR=value ... <launcher>` command; a later one wins, as in `env`."""
    words = command.split(" && env ", 1)[1].split()
    return dict(w.split("=", 1) for w in itertools.takewhile(lambda w: "=" in w, words))


def test_dry_run_prints_each_run_with_its_environment_and_touches_nothing(tmp_path):
    out = tmp_path / "bench"
    done = kit(["--dry-run"], tmp_path, BENCH_OUT=str(out), NPROC="4", PEER_SCRIPT="/x/baseline.py", BENCH_SECONDS="120",
               BENCH_CONFIGS="ns3:MUON_BACKEND_STEPS=3 ; mlp_only:TERNARY_LAYERS=mlp INT_BITS=6", BENCH_TTT="doc")
    assert done.returncode == 0, done.stderr
    lines = {line.split()[1]: line for line in done.stdout.splitlines() if line.startswith("== ")}
    assert list(lines) == ["peer", "plain", "stack", "stack_eval", "ns3", "mlp_only"]
    commands = [line for line in done.stdout.splitlines() if line.startswith("+ cd ")]
    assert len(commands) == 6 and all("--nproc_per_node=4" in c and "MAX_WALLCLOCK_SECONDS=120" in c for c in commands)
    assert all("TORCH_LOGS=recompiles" in c and "PYTHONUNBUFFERED=1" in c for c in commands)
    peer, plain, stack, stack_eval, ns3, mlp_only = commands
    assert peer.startswith(f"+ cd {out}/peer_work ") and peer.split(">")[0].rstrip().endswith("/x/baseline.py")
    assert "NUM_LAYERS=9 PRELUDE_LAYERS=0 CODA_LAYERS=0 MODEL_DIM=512" in plain and "TTT=off EVAL_STRIDE=0 WARMUP_STEPS=0" in plain
    assert "MODEL_DIM" not in stack and f"ARTIFACT_PATH={out}/stack.pgolf" in stack
    assert f"EVAL_ARTIFACT={out}/stack.pgolf EVAL_STRIDE=64 TTT=doc" in stack_eval
    assert "MUON_BACKEND_STEPS=3 " in ns3 and "TERNARY_LAYERS=mlp INT_BITS=6 " in mlp_only and "RUN_ID=bench_mlp_only" in mlp_only
    assert "tools/project.py" in done.stdout and not out.exists()
    # The data: the competition's sp8192 for stack, stack_eval and the configs, the baseline's sp1024 for plain and peer.
    sp8192 = {"DATA_PATH": str(ROOT / "data/datasets/fineweb10B_sp8192"), "TOKENIZER_PATH": str(ROOT / "data/tokenizers/fineweb_8192_bpe.model")}
    sp1024 = {"DATA_PATH": str(ROOT / "data/datasets/fineweb10B_sp1024"), "TOKENIZER_PATH": str(ROOT / "data/tokenizers/fineweb_1024_bpe.model")}
    for command, data in [(stack, sp8192), (stack_eval, sp8192), (ns3, sp8192), (mlp_only, sp8192), (plain, sp1024), (peer, sp1024)]:
        env = assignments(command)
        assert {k: env[k] for k in data} == data, command
        assert command.count("DATA_PATH=") == 1 and command.count("TOKENIZER_PATH=") == 1, command  # one pair, no override to read past
    # plain pins the baseline's recipe, so the competition defaults (vocabulary 8192, NeoMuon, ...) never reach it.
    plain_env = assignments(plain)
    assert {k: plain_env.get(k) for k in (p.split("=")[0] for p in BASELINE_PINS)} == dict(p.split("=") for p in BASELINE_PINS)
    assert "WARMDOWN_ITERS" not in done.stdout  # removed from train_gpt.py: setting it stops the run
    assert assignments(peer)["VOCAB_SIZE"] == "1024" and "VOCAB_SIZE" not in assignments(stack)


def test_each_run_reads_the_data_pair_of_its_vocabulary(tmp_path):
    # Given pairs reach their runs; --cpu-smoke defaults both pairs to the vocabulary-1024 sample.
    done = kit(["--dry-run"], tmp_path, NPROC="1", BENCH_OUT=str(tmp_path / "b"), PEER_SCRIPT="/x/baseline.py",
               DATA_PATH="/d8", TOKENIZER_PATH="/t8.model", DATA_PATH_1024="d1", TOKENIZER_PATH_1024="/t1.model")
    commands = dict(zip(["peer", "plain", "stack", "stack_eval"], (l for l in done.stdout.splitlines() if l.startswith("+ cd "))))
    assert {n: (assignments(c)["DATA_PATH"], assignments(c)["TOKENIZER_PATH"]) for n, c in commands.items()} == {
        "peer": (str(ROOT / "d1"), "/t1.model"), "plain": (str(ROOT / "d1"), "/t1.model"),  # relative: from the repo
        "stack": ("/d8", "/t8.model"), "stack_eval": ("/d8", "/t8.model")}
    done = kit(["--dry-run", "--cpu-smoke"], tmp_path, BENCH_OUT=str(tmp_path / "c"))
    sample = (str(ROOT / "data/sample"), str(ROOT / "data/sample/fineweb_1024_bpe.model"))
    pairs = [(assignments(c)["DATA_PATH"], assignments(c)["TOKENIZER_PATH"]) for c in done.stdout.splitlines() if c.startswith("+ cd ")]
    assert pairs == [sample] * 3  # plain, stack, stack_eval


@pytest.mark.parametrize("runs, env, complaint", [
    ("plain", {"DATA_PATH_1024": "/nonexistent"}, "no fineweb_val_*.bin in DATA_PATH_1024=/nonexistent (read by: plain)"),
    ("stack_eval", {"DATA_PATH": "/nonexistent"}, "no fineweb_val_*.bin in DATA_PATH=/nonexistent (read by: stack_eval)"),
    ("stack_eval plain", {"TOKENIZER_PATH": "/x.model"}, "no tokenizer at TOKENIZER_PATH=/x.model (read by: stack_eval)"),
    ("plain", {"TOKENIZER_PATH_1024": "/x.model"}, "no tokenizer at TOKENIZER_PATH_1024=/x.model (read by: plain)"),
    ("stack_eval", {"DATA_PATH_1024": "/nonexistent"}, None),  # stack_eval does not read the sp1024 pair
])
def test_missing_data_stops_the_kit_before_any_run_only_for_runs_that_read_it(tmp_path, runs, env, complaint):
    out = tmp_path / "bench"
    done = kit(["--cpu-smoke"], tmp_path, BENCH_OUT=str(out), BENCH_RUNS=runs, **env)
    if complaint is None:  # stack_eval without a stack artifact: skipped, the kit ends normally
        assert done.returncode == 0 and "stack_eval skipped: no stack artifact" in done.stdout, done.stderr
    else:
        assert done.returncode == 2 and complaint in done.stderr, done.stderr
        assert "==" not in done.stdout and not out.exists()


def test_bench_runs_chooses_a_subset_and_a_used_folder_is_refused(tmp_path):
    done = kit(["--dry-run"], tmp_path, BENCH_OUT=str(tmp_path / "b"), NPROC="1", BENCH_RUNS="stack_eval plain")
    assert [line.split()[1] for line in done.stdout.splitlines() if line.startswith("== ")] == ["plain", "stack_eval"]
    assert kit(["--dry-run"], tmp_path, BENCH_RUNS="peer", NPROC="1").returncode == 2
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "plain.txt").write_text("x")
    done = kit(["--dry-run"], tmp_path, BENCH_OUT=str(tmp_path / "used"), NPROC="1")
    assert done.returncode == 2 and "not empty" in done.stderr


@given(step_avg=st.floats(10.0, 5000.0), world=st.integers(1, 8), val_tokens=st.integers(1000, 62_021_846),
       eval_ms=st.tuples(*[st.integers(1, 900_000)] * 3), peer_step=st.floats(10.0, 5000.0))
def test_projections_scale_by_world_size_over_8_and_by_the_full_validation_set(
        tmp_path_factory, step_avg, world, val_tokens, eval_ms, peer_step):
    folder = tmp_path_factory.mktemp("logs")
    (folder / "plain.txt").write_text(ours_log(step_avg, world, val_tokens, eval_ms))
    (folder / "peer.txt").write_text(peer_log(peer_step, world, val_tokens, eval_ms[0]))
    runs = [project.parse_log(p) for p in project.log_files([folder])]
    peer, plain = runs
    measured = float(f"{step_avg:.2f}")  # what the log line holds
    assert plain["projected_step_ms_8xh100"] == pytest.approx(measured * world / 8)
    assert plain["projected_steps_600s"] == math.floor(600_000 / plain["projected_step_ms_8xh100"])
    assert plain["tokens_per_s_per_gpu"] == pytest.approx(524288 / (measured / 1000) / world)
    for phase, ms in zip(plain["eval_phases"], eval_ms):
        assert phase["projected_eval_s_8xh100"] == pytest.approx(ms / 1000 * 62_021_846 / val_tokens * world / 8)
    assert plain["projected_eval_total_s_8xh100"] == pytest.approx(sum(eval_ms) / 1000 * 62_021_846 / val_tokens * world / 8)
    assert peer["eval_phases"] == [{"phase": "final_int8_zlib_roundtrip", "val_bpb": 1.2, "eval_time_ms": eval_ms[0],
                                    "projected_eval_s_8xh100": pytest.approx(eval_ms[0] / 1000 * 62_021_846 / val_tokens * world / 8)}]
    assert (peer["peak_memory_mib"], peer["bytes_total"], peer["world_size"]) == (10240, 15_800_000, world)
    assert project.ratios(runs) == {"plain_over_peer_step_avg": pytest.approx(measured / float(f"{peer_step:.2f}")),
                                    "plain_over_peer_val_bpb": pytest.approx(1.25 / 1.2)}


def test_the_peer_converts_our_one_gpu_figures_to_8xh100_through_the_baselines_published_step(tmp_path):
    (tmp_path / "peer.txt").write_text(peer_log(300.0, 1, 1040297, 1500))
    (tmp_path / "stack.txt").write_text(ours_log(600.0, 1, 679221, (1000, 2000, 3000)))
    (tmp_path / "wide.txt").write_text(ours_log(80.0, 8, 679221, (1, 2, 3)))  # another world size: not converted
    runs = [project.parse_log(p) for p in project.log_files([tmp_path])]
    factor = 43.54 / 300.0
    assert project.via_peer(runs) == {"peer_to_8xh100": pytest.approx(factor)}
    peer, stack, wide = runs
    assert stack["via_peer_step_ms_8xh100"] == pytest.approx(600.0 * factor)  # twice the baseline's step
    assert stack["via_peer_steps_600s"] == math.floor(600_000 / (600.0 * factor))
    assert stack["via_peer_eval_s_8xh100"] == pytest.approx(6.0 * 62_021_846 / 679221 * factor)
    assert not any(k.startswith("via_peer") for r in (peer, wide) for k in r)
    assert project.main([str(tmp_path)]) == 0
    bench = json.loads((tmp_path / "bench.json").read_text())
    assert bench["ratios"]["peer_to_8xh100"] == pytest.approx(factor)
    assert project.via_peer([r for r in runs if r["name"] != "peer"]) == {}


def test_runs_lacking_gpu_and_torch_take_them_from_bench_env(tmp_path):
    (tmp_path / "bench_env.txt").write_text("gpu:NVIDIA_H200 gpus:1 nproc:1 torch:2.11.0+cu130 python:3.12.3\n")
    (tmp_path / "peer.txt").write_text(peer_log(300.0, 1, 1040297, 1500))
    (tmp_path / "plain.txt").write_text(ours_log(280.0, 1, 1040297, (1, 2, 3)))
    assert project.main([str(tmp_path)]) == 0
    runs = json.loads((tmp_path / "bench.json").read_text())["runs"]
    assert [(r["name"], r["gpu"], r["torch"]) for r in runs] == [
        ("peer", "NVIDIA H200", "2.11.0+cu130"), ("plain", "NVIDIA H100 80GB HBM3", "2.11.0+cu130")]


def test_a_diverged_run_is_failed_with_its_reason(tmp_path):
    log = tmp_path / "stack.txt"
    log.write_text("device:cuda world_size:1 gpu:G torch:2.11.0\nstep:1/20000 train_loss:9.0 train_time:5ms step_avg:5.00ms\n"
                   "abort reason:nonfinite_loss step:7\nbench_run name:stack exit_status:3 wall_time:9s\n")
    assert project.parse_log(log)["status"] == "failed: abort nonfinite_loss, no final line, exit status 3"


RECOMPILING = textwrap.dedent("""\
    import torch

    @torch.compile(backend="eager")
    def f(x):
        return x * 2 + 1

    f(torch.ones(3))
    f(torch.ones(4))  # recompiles (size), before training
    print("step:1/10 train_loss:6.9000 train_time:10ms step_avg:10.00ms", flush=True)
    f(torch.ones(4, 5))  # recompiles (rank), after the first training step
    print("final val_bpb:3.0", flush=True)
""")


def test_recompiles_count_real_torch_logs_after_the_first_training_step(tmp_path):
    script, log = tmp_path / "compiled.py", tmp_path / "stack.txt"
    script.write_text(RECOMPILING)
    env = {**os.environ, "TORCH_LOGS": "recompiles", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    with open(log, "w") as out:
        subprocess.run([sys.executable, str(script)], env=env, stdout=out, stderr=subprocess.STDOUT, timeout=120, check=True)
    text = log.read_text()
    assert text.count("Recompiling function") == 2, text  # the real log format this counter reads
    run = project.parse_log(log)
    assert (run["recompiles_after_warmup"], run["recompiles_total"]) == (1, 2)
    # An evaluation-only run has no training step: every recompile counts.
    log.write_text("\n".join(line for line in text.splitlines() if not line.startswith("step:")))
    assert project.parse_log(log)["recompiles_after_warmup"] == 2
    # Evaluation primes its shapes before `eval_compile`; only recompiles between it and `eval_total` count,
    # and none between the export and evaluation.
    recompile = next(line for line in text.splitlines() if "Recompiling function" in line)
    lines = ["step:1/10 train_loss:6.9 train_time:10ms step_avg:10.00ms", recompile, "artifact path:a.pgolf bytes_total:1",
             recompile, recompile, "eval_compile time:5ms", recompile, "eval_total time:9ms budget:600000ms", recompile]
    log.write_text("\n".join(lines))
    assert project.parse_log(log)["recompiles_after_warmup"] == 2
    log.write_text("\n".join(lines[3:]))  # an evaluation-only run of this script
    assert project.parse_log(log)["recompiles_after_warmup"] == 1
