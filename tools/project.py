"""Turns the logs of tools/gpu_bench.sh into one table and bench.json, projected to 8xH100.

    python tools/project.py bench_runs/<stamp>/             # every <name>.txt in the folder
    python tools/project.py a/plain.txt b/stack.txt --json bench.json

Reads, through tools/logs.py, both this script's logs and the challenge baseline's stdout (the
`peer` run). Projections assume perfect scaling: time per global batch divides by the GPU count,
evaluation time scales with the number of validation targets. They leave out the all-reduce
between 8 GPUs and data-loading differences, and the measured GPU may not be an H100.
With a peer run (the baseline, measured on the same GPUs), a second projection needs no assumption
about the GPU: each run's measured step and evaluation times x 43.54 ms (the baseline's published
step on 8xH100) / the peer's measured step, in bench.json as via_peer_step_ms_8xh100,
via_peer_steps_600s and via_peer_eval_s_8xh100, with the factor as ratios.peer_to_8xh100.
"""

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import logs  # noqa: E402

FULL_VAL_TARGETS = 62_021_846  # validation targets of the full challenge set (tokens - 1)
TARGET_GPUS = 8
TRAIN_BUDGET_MS = 600_000
PEER_STEP_MS_8XH100 = 43.54  # the challenge baseline's published step on 8xH100 (its README: 13,780 steps in 600 s)
RUN_ORDER = ["peer", "plain", "stack", "stack_eval"]  # then BENCH_CONFIGS runs, by name
# (fact of tools/logs.py, key of a run in bench.json)
RUN_FACTS = (("steps", "steps"), ("step_avg_ms", "step_avg_ms"), ("device", "device"), ("torch", "torch"),
             ("val_tokens", "val_targets"), ("val_bpb", "final_val_bpb"), ("bytes_total", "bytes_total"),
             ("world_size", "world_size"), ("peak_memory_mib", "peak_memory_mib"),
             ("recompiles_total", "recompiles_total"), ("recompiles_after_warmup", "recompiles_after_warmup"))
FOOTER = (
    "Projections assume perfect scaling to 8 GPUs: measured time per global batch x world size / 8, "
    f"and evaluation time x ({FULL_VAL_TARGETS:,} / validation targets measured) x world size / 8. "
    "They leave out the communication between 8 GPUs (gradient all-reduce), data-loading differences, "
    "and the measured GPU may not be an H100. Recompiles count every rank's lines."
)


def read_env(folder: Path) -> dict:
    """bench_env.txt: `gpu:<name> gpus:<n> nproc:<n> torch:<v> python:<v>`, or {} if absent."""
    path = folder / "bench_env.txt"
    return logs.fields(path.read_text().strip()) if path.is_file() else {}


def parse_log(path: Path, env: dict | None = None) -> dict:
    """The facts of one run's log (tools/logs.py); facts the log lacks stay absent (or come from `env`)."""
    facts = logs.read(path)
    run = {"name": path.stem, "log": str(path)}
    for fact, key in RUN_FACTS:
        if fact in facts:
            run[key] = facts[fact]
    if "device" in facts:
        run["gpu"] = facts.get("gpu", facts["device"])
    if "abort" in facts:
        run["abort"] = facts["abort"]["reason"]
    run.update({k: v for k, v in facts.get("bench_run", {}).items() if k in ("exit_status", "skipped")})
    if facts.get("settings", {}).get("train_batch_tokens", "").isdigit():
        run["train_batch_tokens"] = int(facts["settings"]["train_batch_tokens"])
    run["eval_phases"] = [{"phase": p["name"], **{k: p[k] for k in ("val_bpb", "eval_time_ms") if k in p}}
                          for p in facts["phases"] if "val_bpb" in p]
    fill_from_env(run, env or {})
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
                scale = FULL_VAL_TARGETS / targets * world / TARGET_GPUS
                phase["projected_eval_s_8xh100"] = phase["eval_time_ms"] / 1000 * scale
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


def via_peer(runs: list[dict]) -> dict:
    """Our runs on 8xH100 through the peer's measured step (same world size): x 43.54 ms / the peer's step.
    Returns {"peer_to_8xh100": factor}, or {} without a measured peer step."""
    peer = next((r for r in runs if r["name"] == "peer"), None)
    if not peer or not peer.get("step_avg_ms"):
        return {}
    factor = PEER_STEP_MS_8XH100 / peer["step_avg_ms"]
    for r in runs:
        if r is peer or r.get("world_size") != peer.get("world_size"):
            continue
        if r.get("step_avg_ms"):
            r["via_peer_step_ms_8xh100"] = r["step_avg_ms"] * factor
            r["via_peer_steps_600s"] = math.floor(TRAIN_BUDGET_MS / r["via_peer_step_ms_8xh100"])
        timed = [p["eval_time_ms"] for p in r["eval_phases"] if "eval_time_ms" in p]
        if timed and r.get("val_targets"):
            r["via_peer_eval_s_8xh100"] = sum(timed) / 1000 * FULL_VAL_TARGETS / r["val_targets"] * factor
    return {"peer_to_8xh100": factor}


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
    converted = [r for r in runs if "via_peer_step_ms_8xh100" in r or "via_peer_eval_s_8xh100" in r]
    if "peer_to_8xh100" in ratio and converted:
        rows += ["", f"Through the peer: its measured step x {ratio['peer_to_8xh100']:.4f} = the baseline's published "
                 f"{PEER_STEP_MS_8XH100} ms on 8xH100", "| run | step ms 8xH100 via peer | steps 600 s via peer "
                 "| eval s 8xH100 via peer |", "|---|---|---|---|"]
        rows += [f"| {r['name']} | {fmt(r.get('via_peer_step_ms_8xh100'), '.2f')} | {fmt(r.get('via_peer_steps_600s'))} "
                 f"| {fmt(r.get('via_peer_eval_s_8xh100'), '.1f')} |" for r in converted]
    if ratio:
        rows += [""] + [f"{k}: {v:.4f}" for k, v in ratio.items()]
    return "\n".join(rows + ["", FOOTER])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paths", nargs="+", type=Path, help="a gpu_bench.sh output folder, or log files")
    p.add_argument("--json", type=Path, help="where bench.json goes (default: <folder>/bench.json)")
    args = p.parse_args(argv)
    paths = log_files(args.paths)
    if not paths:
        print(f"project.py: no logs in {' '.join(map(str, args.paths))}", file=sys.stderr)
        return 2
    runs = [parse_log(path, read_env(path.parent)) for path in paths]
    ratio = {**ratios(runs), **via_peer(runs)}
    print(table(runs, ratio))
    folder = args.paths[0] if args.paths[0].is_dir() else paths[0].parent
    out = args.json or folder / "bench.json"
    out.write_text(json.dumps({"runs": runs, "ratios": ratio, "notes": FOOTER}, indent=2) + "\n")
    print(f"\nbench.json: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
