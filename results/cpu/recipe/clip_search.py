"""Integer export with and without the per-row clip search, on one trained plain model.

    OMP_NUM_THREADS=1 python results/cpu/recipe/clip_search.py > results/cpu/recipe/clip_search.txt

Trains the CPU sample's shape with no ternary layers (TERNARY_LAYERS=none: every block matrix and the
embedding go through the int export) for a fixed number of steps on data/sample, then exports the
same trained weights at several INT_BITS/EMBED_BITS, once with the clip search (INT_CLIPS as shipped)
and once clipping every row at its maximum (INT_CLIPS = (1.0,), the export before the search), and
scores each reloaded artifact (non-overlapping windows). The gap is roundtrip minus live BPB.

It runs train_gpt.py of commit ff01379 (fetched with git show; data/sample from the working tree).
Results and what they mean: docs/measurements.md, "Integer export with the clip search".
"""

import dataclasses
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

# The measured script is the entry's commit's, fetched from git (the working tree's train_gpt.py may differ).
COMMIT = "ff01379"
ROOT = Path(__file__).resolve().parents[3]
PINNED = Path(tempfile.mkdtemp(prefix=f"train_gpt_{COMMIT}_"))
(PINNED / "train_gpt.py").write_bytes(subprocess.run(["git", "-C", str(ROOT), "show", f"{COMMIT}:train_gpt.py"], check=True, capture_output=True).stdout)
(PINNED / "data").symlink_to(ROOT / "data")  # its cpu_sample defaults read data/sample beside the script
sys.path.insert(0, str(PINNED))
import train_gpt as tg  # noqa: E402


def main():
    env = {"TERNARY_LAYERS": "none", "ITERATIONS": "200", "MAX_WALLCLOCK_SECONDS": "0", "VAL_LOSS_EVERY": "0", "SEED": "1337"}
    cfg = tg.Hyperparameters.from_env(env, cuda=False)
    ctx = tg.Dist()
    data = tg.load_eval_data(cfg, ctx)
    torch.manual_seed(cfg.seed)
    model = tg.GPT(cfg)
    tg.train(model, cfg, ctx, data, print)

    def score(m):
        m.eval()
        return tg.eval_stats(tg.score_stream(tg.forward_fn(m, cfg, ctx, compiled=False), data, cfg.eval_seq_len, cfg.eval_seq_len, cfg, ctx), data)[1]

    live = score(model)
    print(f"clip_search live val_bpb:{live:.5f} steps:{cfg.iterations}")
    searched = tg.INT_CLIPS
    for int_bits, embed_bits in ((8, 8), (6, 8), (6, 7), (6, 6), (6, 5), (4, 8)):
        for name, clips in (("max", (1.0,)), ("search", searched)):
            tg.INT_CLIPS = clips
            blob, _ = tg.encode_artifact(model, cfg, int_bits, embed_bits)
            _, state = tg.decode_artifact(blob)
            reloaded = tg.GPT(dataclasses.replace(cfg, ternary_layers="none"))
            reloaded.load_state_dict(state)
            bpb = score(reloaded)
            print(f"clip_search int_bits:{int_bits} embed_bits:{embed_bits} clip:{name} val_bpb:{bpb:.5f} gap:{bpb - live:+.5f} bytes_model:{len(blob)}")
    tg.INT_CLIPS = searched


if __name__ == "__main__":
    main()
