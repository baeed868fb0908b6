"""The budget-filling export at the competition default's shape, on weights that compress like trained ones.

    OMP_NUM_THREADS=1 python results/cpu/export_fill/fullshape_fit.py > results/cpu/export_fill/fullshape_fit.txt

A few CPU steps leave the zero-initialized output projections near zero, which compresses far better than a
trained model. Here every matrix is drawn at random instead (std 0.02, as the ternary record initializes its
latents: about 31% zero trits, near the record's 33.6%), gains and mixes 1 +/- 0.1. The export is the real one,
train_gpt.fit_export: from the ceilings (INT_BITS=8, EMBED_BITS=8, side tensors fp32) it steps the group that
costs the least error per byte down until the artifact fits, then steps any group back up that still fits.
Each `shrink` line is one attempt. The script measured is this checkout's train_gpt.py.
"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
import train_gpt as tg  # noqa: E402


def main():
    cfg = tg.Hyperparameters.from_env({"CONFIG_PROFILE": "competition"}, cuda=True)  # the CUDA defaults, built on CPU
    torch.manual_seed(0)
    model = tg.GPT(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * 0.02 if p.ndim == 2 and "skip" not in name else 1 + 0.1 * torch.randn_like(p))
    print(f"fullshape code_bytes:{tg.code_bytes()} shape:{cfg.num_layers}x{cfg.model_dim} loops:{cfg.loops} "
          f"smear_gate:{cfg.smear_gate} parallel_layers:{cfg.parallel_layers}", flush=True)
    packed, bits = tg.fit_export(model, cfg, lambda line: print(line, flush=True))
    total = len(packed.blob) + tg.code_bytes()
    estimate = tg.estimate_artifact_bytes(cfg, bits)
    print(f"fullshape chosen " + " ".join(f"{g}_bits:{b}" for g, b in bits.items()) + f" bytes_total:{total} "
          f"fits:{total <= cfg.artifact_limit} estimate_at_chosen:{estimate} estimate_is_upper_bound:{estimate >= total}")


if __name__ == "__main__":
    main()
