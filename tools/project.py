"""Turns the logs of tools/gpu_bench.sh into one table and bench.json, projected to 8xH100.

    python tools/project.py bench_runs/<stamp>/             # every <name>.txt in the folder
    python tools/project.py a/plain.txt b/stack.txt --json bench.json

Reads both this script's logs (README "Log lines") and the challenge baseline's stdout (the
`peer` run). Projections assume perfect scaling: time per global batch divides by the GPU count,
evaluation time scales with the number of validation targets. They leave out the all-reduce
between 8 GPUs and data-loading differences, and the measured GPU may not be an H100.
"""

import argparse
import json
import math
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from summarize import fields, number  # noqa: E402

FULL_VAL_TARGETS = 62_021_846  # validation targets of the full challenge set (tokens - 1)
TARGET_GPUS = 8
TRAIN_BUDGET_MS = 600_000
RUN_ORDER = ["peer", "plain", "stack", "stack_eval"]  # then BENCH_CONFIGS runs, by name
RECOMPILE = "Recompiling function"  # one line per recompilation under TORCH_LOGS=recompiles
PEER_FINAL = "final_int8_zlib_roundtrip_exact"  # the baseline's last line: its score, full precision
# Both `peak memory allocated:123MiB` (ours) and `peak memory allocated: 123 MiB` (the baseline).
PEAK_MEMORY = re.compile(r"peak memory allocated:\s*(\d+)\s*MiB")
PEER_BYTES = re.compile(r"Total submission size int8\+zlib:\s*(\d+)\s*bytes")
FOOTER = (
    "Projections assume perfect scaling to 8 GPUs: measured time per global batch x world size / 8, "
    f"and evaluation time x ({FULL_VAL_TARGETS:,} / validation targets measured) x world size / 8. "
    "They leave out the communication between 8 GPUs (gradient all-reduce), data-loading differences, "
    "and the measured GPU may not be an H100. Recompiles count every rank's lines."
)


def read_env(folder: Path) -> dict:
    """bench_env.txt: `gpu:<name> gpus:<n> nproc:<n> torch:<v> python:<v>`, or {} if absent."""
    path = folder / "bench_env.txt"
    return fields(path.read_text().strip()) if path.is_file() else {}


def parse_log(path: Path, env: dict | None = None) -> dict:
    """The facts of one run's log; facts the log lacks stay absent (or come from `env`)."""
    env = env or {}
    run = {"name": path.stem, "log": str(path), "eval_phases": []}
    phases = {}
    # Recompiles count where a timer runs: from the first training step to the export, and from
    # `eval_compile` (evaluation's deliberate priming is done) to `eval_total`.
    recompiles, recompiles_after, training_started, primed, timed = 0, 0, False, False, False
    for line in path.read_text(errors="replace").splitlines():
        if RECOMPILE in line:
            recompiles += 1
            recompiles_after += timed
            continue
        if line.startswith(("artifact path:", "eval_total")):
            timed = False
        elif line.startswith("eval_compile"):
            primed = timed = True
        f = fields(line)
        head = line.split(" ", 1)[0]
        if line.startswith("step:") and "step_avg" in f:
            if "train_loss" in f and not training_started:
                training_started = timed = True
            run["steps"], run["step_avg_ms"] = int(f["step"].split("/")[0]), number(f["step_avg"])
        elif line.startswith("stopping_early:"):
            steps = int(f["step"].split("/")[0])
            run["steps"], run["step_avg_ms"] = steps, number(f["train_time"]) / max(steps, 1)
        elif line.startswith("device:"):
            run["device"], run["torch"] = f["device"], f["torch"]
            run["gpu"] = f.get("gpu", f["device"]).replace("_", " ")
        elif line.startswith("val_tokens:"):
            run["val_targets"] = int(f["val_tokens"])
        elif line.startswith("val_loader:") and "tokens" in f:
            run["val_targets"] = int(f["tokens"])
        elif head.startswith("final_") and "val_bpb" in f:
            name = head.removesuffix("_exact")
            phase = phases.setdefault(name, {"phase": name})
            phase["val_bpb"] = float(f["val_bpb"])
            if "eval_time" in f:
                phase["eval_time_ms"] = number(f["eval_time"])
            if head == PEER_FINAL:
                run["final_val_bpb"] = phase["val_bpb"]
        elif line.startswith("final val_bpb:"):
            run["final_val_bpb"] = float(f["val_bpb"])
        elif line.startswith("artifact ") and "bytes_total" in f:
            run["bytes_total"] = int(f["bytes_total"])
        elif line.startswith("abort reason:"):
            run["abort"] = f["reason"]
        elif line.startswith("bench_run "):
            run.update({k: v for k, v in f.items() if k in ("exit_status", "skipped")})
        if "world_size" in f:
            run["world_size"] = int(f["world_size"])
        if "train_batch_tokens" in f:
            run["train_batch_tokens"] = int(f["train_batch_tokens"])
        if m := PEAK_MEMORY.search(line):
            run["peak_memory_mib"] = int(m.group(1))
        if m := PEER_BYTES.search(line):
            run["bytes_total"] = int(m.group(1))
    run["eval_phases"] = list(phases.values())
    # An evaluation-only run has no warm-up to exclude: every recompile counts.
    run["recompiles_total"] = recompiles
    run["recompiles_after_warmup"] = recompiles_after if training_started or primed else recompiles
    fill_from_env(run, env)
    run["status"] = status(run)
    project(run)
    return run


def fill_from_env(run: dict, env: dict):
    """The baseline prints its GPU and torch only into its own log file: take them from bench_env.txt."""
    if "gpu" not in run and env.get("gpu"):
        run["gpu"] = env["gpu"].replace("_", " ")
    if "torch" not in run and env.get("torch"):
        run["torch"] = env["torch"]
    if "world_size" not in run and env.get("nproc", "").isdigit():
        run["world_size"] = int(env["nproc"])


def status(run: dict) -> str:
    if "skipped" in run:
        return "skipped: " + run["skipped"].replace("_", " ")
    problems = []
    if "abort" in run:
        problems.append(f"abort {run['abort']}")
    if "final_val_bpb" not in run:
        problems.append("no final line")
    if run.get("exit_status", "0") != "0":
        problems.append(f"exit status {run['exit_status']}")
    return "failed: " + ", ".join(problems) if problems else "ok"


def project(run: dict):
    """Per-GPU throughput and the 8xH100 projections, from whatever the log measured."""
    world, step_ms = run.get("world_size"), run.get("step_avg_ms")
    if world and step_ms:
        if "train_batch_tokens" in run:
            run["tokens_per_s_per_gpu"] = run["train_batch_tokens"] / (step_ms / 1000) / world
        run["projected_step_ms_8xh100"] = step_ms * world / TARGET_GPUS
        run["projected_steps_600s"] = math.floor(TRAIN_BUDGET_MS / run["projected_step_ms_8xh100"])
    targets = run.get("val_targets")
    if world and targets:
        for phase in run["eval_phases"]:
            if "eval_time_ms" in phase:
                phase["projected_eval_s_8xh100"] = phase["eval_time_ms"] / 1000 * (FULL_VAL_TARGETS / targets) * world / TARGET_GPUS
        projected = [p["projected_eval_s_8xh100"] for p in run["eval_phases"] if "projected_eval_s_8xh100" in p]
        if projected:
            run["projected_eval_total_s_8xh100"] = sum(projected)


def ratios(runs: list[dict]) -> dict:
    """plain / peer: our script at the baseline's shape against the baseline itself."""
    by_name = {r["name"]: r for r in runs}
    plain, peer = by_name.get("plain"), by_name.get("peer")
    if not plain or not peer:
        return {}
    out = {}
    for key, label in (("step_avg_ms", "step_avg"), ("final_val_bpb", "val_bpb")):
        if plain.get(key) and peer.get(key):
            out[f"plain_over_peer_{label}"] = plain[key] / peer[key]
    return out


def log_files(paths: list[Path]) -> list[Path]:
    found = []
    for p in paths:
        if p.is_dir():
            found += [q for q in p.glob("*.txt") if q.name != "bench_env.txt"]
        else:
            found.append(p)
    order = {name: i for i, name in enumerate(RUN_ORDER)}
    return sorted(found, key=lambda p: (order.get(p.stem, len(order)), p.stem, str(p)))


def fmt(value, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def table(runs: list[dict], ratio: dict) -> str:
    rows = [
        "| run | status | GPU | torch | steps | step_avg ms | tokens/s/GPU | peak MiB | recompiles after warm-up / total "
        "| bytes_total | final val_bpb | projected step ms 8xH100 | projected steps 600 s | projected eval s 8xH100 |",
        "|" + "---|" * 14,
    ]
    for r in runs:
        gpu = f"{r.get('world_size', '?')}x {r.get('gpu', '?')}"
        rows.append(
            f"| {r['name']} | {r['status']} | {gpu} | {r.get('torch', '-')} | {fmt(r.get('steps'))} "
            f"| {fmt(r.get('step_avg_ms'), '.2f')} | {fmt(r.get('tokens_per_s_per_gpu'), ',.0f')} "
            f"| {fmt(r.get('peak_memory_mib'))} | {r['recompiles_after_warmup']} / {r['recompiles_total']} "
            f"| {fmt(r.get('bytes_total'), ',')} | {fmt(r.get('final_val_bpb'), '.4f')} "
            f"| {fmt(r.get('projected_step_ms_8xh100'), '.2f')} | {fmt(r.get('projected_steps_600s'))} "
            f"| {fmt(r.get('projected_eval_total_s_8xh100'), '.1f')} |"
        )
    rows += ["", "| run | eval phase | val_bpb | eval_time s | projected eval s 8xH100 |", "|---|---|---|---|---|"]
    for r in runs:
        for p in r["eval_phases"]:
            seconds = p["eval_time_ms"] / 1000 if "eval_time_ms" in p else None
            rows.append(f"| {r['name']} | {p['phase']} | {p['val_bpb']:.4f} | {fmt(seconds, '.1f')} "
                        f"| {fmt(p.get('projected_eval_s_8xh100'), '.1f')} |")
    if ratio:
        rows += [""] + [f"{k}: {v:.4f}" for k, v in ratio.items()]
    return "\n".join(rows + ["", FOOTER])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paths", nargs="+", type=Path, help="a gpu_bench.sh output folder, or log files")
    p.add_argument("--json", type=Path, help="where bench.json goes (default: <folder>/bench.json)")
    args = p.parse_args(argv)
    logs = log_files(args.paths)
    if not logs:
        print(f"project.py: no logs in {' '.join(map(str, args.paths))}", file=sys.stderr)
        return 2
    runs = [parse_log(log, read_env(log.parent)) for log in logs]
    ratio = ratios(runs)
    print(table(runs, ratio))
    folder = args.paths[0] if args.paths[0].is_dir() else logs[0].parent
    out = args.json or folder / "bench.json"
    out.write_text(json.dumps({"runs": runs, "ratios": ratio, "notes": FOOTER}, indent=2) + "\n")
    print(f"\nbench.json: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
