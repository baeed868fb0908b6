"""Draws train and validation loss against training time from train_gpt.py logs into a PNG.

    python tools/plot_logs.py logs/a.txt logs/b.txt --out curves.png

matplotlib is optional: it is needed only for this picture (pip install matplotlib)."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import logs  # noqa: E402


def curves(path: Path) -> tuple[list, list]:
    """(train points, val points) as (seconds, loss) from the log's `step:` lines."""
    timed = [p for p in logs.read(path)["curve"] if "train_time_ms" in p]
    return ([(p["train_time_ms"] / 1000, p["train_loss"]) for p in timed if "train_loss" in p],
            [(p["train_time_ms"] / 1000, p["val_loss"]) for p in timed if "val_loss" in p])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("logs", nargs="+", type=Path)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_logs needs matplotlib: pip install matplotlib", file=sys.stderr)
        return 2
    fig, ax = plt.subplots(figsize=(7, 4))
    for path in args.logs:
        train, val = curves(path)
        if train:
            line, = ax.plot(*zip(*train), label=f"{path.stem} train", linewidth=1)
            if val:
                ax.plot(*zip(*val), "o--", color=line.get_color(), label=f"{path.stem} val")
    ax.set_xlabel("training time (s)")
    ax.set_ylabel("loss (nats/token)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
