"""Mean, spread and paired difference from a reference configuration of each configuration's scores in a
folder of logs named <config>_s<seed>.txt.

    python results/cpu/recipe/table.py [LOGS] [--markdown] [--reference NAME]

LOGS defaults to results/cpu/recipe/logs and NAME to `new`. One row per configuration: its seeds;
final_sliding val_bpb mean, sample std and range; the mean over its seeds of (config - reference) for the
same seed (paired: same data order and initialization, so most of the seed-to-seed spread cancels) with that
difference's range; final_roundtrip mean; steps; the mean step time over the reference's (step_avg of the
last train_loss line; a CPU shared with other work makes it noisy).
"""

import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def value(text: str, prefix: str, key: str) -> float | None:
    m = re.search(rf"^{prefix}.* {key}:([0-9.]+)", text, re.M)
    return float(m.group(1)) if m else None


def load(folder: str) -> dict[str, dict[int, tuple[float, float, int, float]]]:
    rows = defaultdict(dict)
    for log in sorted(Path(folder).glob("*_s*.txt")):
        config, seed = log.stem.rsplit("_s", 1)
        text = log.read_text()
        sliding = value(text, "final_sliding", "val_bpb")
        steps = re.findall(r"^step:(\d+)/\d+ train_loss:.* step_avg:([0-9.]+)ms", text, re.M)
        if sliding is not None:
            rows[config][int(seed)] = (sliding, value(text, "final_roundtrip", "val_bpb"), int(steps[-1][0]) if steps else 0,
                                       float(steps[-1][1]) if steps else 0.0)
    return rows


def main(folder: str, markdown: bool, reference: str = "new"):
    rows = load(folder)
    new = rows.get(reference, {})
    step_ref = statistics.mean(r[3] for r in new.values()) if new else 0.0
    head = ["config", "seeds", "sliding mean", "std", "range", f"paired vs {reference}", "paired range", "roundtrip mean",
            "steps", "step time ratio"]
    lines = []
    for config, runs in sorted(rows.items(), key=lambda kv: statistics.mean(r[0] for r in kv[1].values())):
        s = [r[0] for r in runs.values()]
        paired = [runs[k][0] - new[k][0] for k in runs if k in new and not config.startswith("recmatch")]  # recmatch: other data
        lines.append([config, ",".join(map(str, runs)), f"{statistics.mean(s):.4f}", f"{statistics.stdev(s):.4f}" if len(s) > 1 else "-",
                      f"{min(s):.4f}-{max(s):.4f}", f"{statistics.mean(paired):+.4f}" if paired else "-",
                      f"{min(paired):+.4f} to {max(paired):+.4f}" if paired else "-",
                      f"{statistics.mean(r[1] for r in runs.values()):.4f}", "/".join(str(r[2]) for r in runs.values()),
                      f"{statistics.mean(r[3] for r in runs.values()) / step_ref:.2f}" if step_ref else "-"])
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for line in lines:
            print("| " + " | ".join(line) + " |")
    else:
        for line in [head] + lines:
            print("  ".join(f"{c:<14}" for c in line))


if __name__ == "__main__":
    argv = sys.argv[1:]
    reference = argv.pop(argv.index("--reference") + 1) if "--reference" in argv else "new"
    args = [a for a in argv if a not in ("--markdown", "--reference")]
    main(args[0] if args else str(Path(__file__).parent / "logs"), "--markdown" in argv, reference)
