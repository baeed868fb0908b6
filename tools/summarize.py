"""Builds a challenge submission.json from the per-seed logs of train_gpt.py.

Every number is read from the logs. A seed whose log has no `final val_bpb:` line (it failed),
whose artifact is over 16,000,000 bytes, or whose training or evaluation ran past 600 s is listed
with its problems and left out of the summary; if no seed is valid, the summary says so.

    python tools/summarize.py runs/<tag>/seed*.log --out runs/<tag>/submission.json \
        --author "Name" --github-id handle --name "Run name" --blurb "What it does"
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

BYTE_LIMIT = 16_000_000
TIME_LIMIT_MS = 600_000


def fields(line: str) -> dict:
    """key:value pairs of one log line (values are single tokens)."""
    out = {}
    for token in line.split():
        if ":" in token:
            key, value = token.split(":", 1)
            out[key] = value
    return out


def number(value: str) -> float:
    return float(value[:-2] if value.endswith("ms") else value)


def parse_log(path: Path) -> dict:
    """The facts of one run: seed, scores, bytes, times, hardware; missing facts stay absent."""
    run = {"log": path.name}
    final_phase = None
    for line in path.read_text(errors="replace").splitlines():
        f = fields(line)
        if line.startswith("hyperparameters "):
            run["seed"] = int(f["seed"])
        elif line.startswith("device:"):
            run["world_size"] = int(f["world_size"])
            run["device"] = f["device"]
            run["gpu"] = f.get("gpu", "").replace("_", " ")
            run["pytorch_version"] = f["torch"]
        elif line.startswith("artifact path:"):
            run["bytes_total"], run["bytes_code"] = int(f["bytes_total"]), int(f["bytes_code"])
        elif line.startswith("step:") and "train_time" in f:
            run["train_time_ms"], run["steps"] = number(f["train_time"]), int(f["step"].split("/")[0])
        elif line.startswith("final_"):
            final_phase = f
        elif line.startswith("eval_total "):
            run["eval_time_ms"] = number(f["time"])
        elif line.startswith("final val_bpb:"):
            run["val_bpb"] = float(f["val_bpb"])
            if final_phase is not None:
                run["val_loss"] = float(final_phase["val_loss"])
    run["problems"] = problems(run)
    run["valid"] = not run["problems"]
    return run


def problems(run: dict) -> list[str]:
    found = []
    if "val_bpb" not in run:
        found.append("failed: no final val_bpb line")
    if run.get("bytes_total", 0) > BYTE_LIMIT:
        found.append(f"artifact over limit: {run['bytes_total']} > {BYTE_LIMIT} bytes")
    if "bytes_total" not in run and "val_bpb" in run:
        found.append("no artifact line (EVAL_ARTIFACT re-score, not a training run)")
    if run.get("train_time_ms", 0) > TIME_LIMIT_MS:
        found.append(f"training over time: {run['train_time_ms']:.0f} > {TIME_LIMIT_MS} ms")
    if run.get("eval_time_ms", 0) > TIME_LIMIT_MS:
        found.append(f"evaluation over time: {run['eval_time_ms']:.0f} > {TIME_LIMIT_MS} ms")
    return found


def hardware(run: dict) -> str:
    if run.get("device") == "cuda":
        return f"{run['world_size']}x {run.get('gpu') or 'CUDA GPU'}"
    return f"CPU ({run.get('world_size', 1)} process{'es' if run.get('world_size', 1) > 1 else ''})"


def summarize(paths: list[Path], meta: dict) -> dict:
    runs = [parse_log(p) for p in paths]
    valid = [r for r in runs if r["valid"]]
    summary = {**meta, "date": meta.get("date") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "valid": bool(valid), "seeds": [r.get("seed") for r in valid], "seed_results": runs}
    if valid:
        summary.update(
            val_loss=round(statistics.fmean(r["val_loss"] for r in valid), 8),
            val_bpb=round(statistics.fmean(r["val_bpb"] for r in valid), 8),
            val_bpb_std=round(statistics.stdev([r["val_bpb"] for r in valid]), 8) if len(valid) > 1 else 0.0,
            bytes_total=max(r["bytes_total"] for r in valid),
            bytes_code=valid[0]["bytes_code"],
            hardware=hardware(valid[0]),
            pytorch_version=valid[0]["pytorch_version"],
        )
    else:
        summary.update(val_loss=None, val_bpb=None, val_bpb_std=None, bytes_total=None, bytes_code=None,
                       hardware=hardware(runs[0]) if runs else None, pytorch_version=runs[0].get("pytorch_version") if runs else None)
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("logs", nargs="+", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--author", default="")
    p.add_argument("--github-id", default="")
    p.add_argument("--name", default="")
    p.add_argument("--blurb", default="")
    p.add_argument("--date", default="")
    args = p.parse_args(argv)
    meta = {"author": args.author, "github_id": args.github_id, "name": args.name, "blurb": args.blurb, "date": args.date}
    summary = summarize(args.logs, meta)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    for r in summary["seed_results"]:
        print(f"{r['log']}: " + ("ok val_bpb:" + str(r["val_bpb"]) if r["valid"] else "FLAGGED " + "; ".join(r["problems"])))
    if not summary["valid"]:
        print("no valid seed: submission.json marks the run invalid", file=sys.stderr)
        return 1
    print(f"val_bpb:{summary['val_bpb']} std:{summary['val_bpb_std']} seeds:{len(summary['seeds'])} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
