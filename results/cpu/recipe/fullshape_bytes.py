"""Bytes of a competition-shape artifact whose weights look trained: no zero-initialized tensor left.

    OMP_NUM_THREADS=1 python results/cpu/recipe/fullshape_bytes.py > results/cpu/recipe/fullshape_bytes.txt

A few CPU steps leave the zero-initialized output projections near zero, so that artifact compresses
far better than a trained one. Here every matrix is drawn from a normal distribution instead (ternary
latents at std 0.02, as the record initializes them: about 31% zero trits, near the record's 33.6%;
the embedding and its projections too), and gains and mixes from 1 +/- 0.1, so that trits and
integers are as hard to compress as random ones. The export is the real one (encode_artifact, zstd 22,
packing choice included) at each EMBED_BITS the auto-fit may use; bytes_total adds this script's
train_gpt.py as it ships.

It runs train_gpt.py of commit ff01379 (fetched with git show). Results: docs/measurements.md,
"Full-shape bytes of the competition default".
"""

import json
import struct
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
    cfg = tg.Hyperparameters.from_env({"CONFIG_PROFILE": "competition"}, cuda=True)  # the CUDA defaults, built on CPU
    torch.manual_seed(0)
    model = tg.GPT(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * 0.02 if p.ndim == 2 and "skip" not in name else 1 + 0.1 * torch.randn_like(p))
    zero = sum(int((tg.ternary_quantize(m.weight.float(), m.group, m.scale_kind)[0] == 0).sum()) for m in model.modules() if isinstance(m, tg.BitLinear))
    total = sum(m.weight.numel() for m in model.modules() if isinstance(m, tg.BitLinear))
    print(f"fullshape zero_trit_fraction:{zero / total:.4f} ternary_params:{total} code_bytes:{tg.code_bytes()}")
    for int_bits, embed_bits in tg.shrink_plan(cfg)[:3]:  # EMBED_BITS 8, 7, 6 (INT_BITS acts on no matrix here)
        blob, stats = tg.encode_artifact(model, cfg, int_bits, embed_bits)
        body = tg.zstandard.ZstdDecompressor().decompress(blob[len(tg.ARTIFACT_MAGIC) + 8 :])
        tensors = json.loads(body[4 : 4 + struct.unpack("<I", body[:4])[0]])["tensors"]
        packings = [t["meta"]["packing"] for t in tensors if t["encoding"] == "ternary"]
        print(f"fullshape packing base3:{packings.count('base3')} mask:{packings.count('mask')}")
        print(f"fullshape int_bits:{int_bits} embed_bits:{embed_bits} bytes_model:{len(blob)} bytes_total:{len(blob) + tg.code_bytes()} "
              f"fits:{len(blob) + tg.code_bytes() <= cfg.artifact_limit} estimate:{tg.estimate_artifact_bytes(cfg, int_bits, embed_bits)}")


if __name__ == "__main__":
    main()
