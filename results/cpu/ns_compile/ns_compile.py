"""Inductor compile time of train_gpt.newton_schulz at the competition's six matrix shapes, and its eager and
compiled time per call, on this machine's CPU (docs/measurements.md, "Newton-Schulz: eager").

    OMP_NUM_THREADS=1 python results/cpu/ns_compile/ns_compile.py > results/cpu/ns_compile/ns_compile.txt
"""
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
import train_gpt as tg  # noqa: E402

# q, k and v blocks of the fused projection (768, 384, 384 rows), the MLP's two matrices, the embedding projections.
SHAPES = [(768, 768), (384, 768), (3072, 768), (768, 3072), (768, 254), (254, 768)]

compiled = torch.compile(tg.newton_schulz, dynamic=False, fullgraph=True, backend="inductor")
total = 0.0
for rows, cols in SHAPES:
    g = torch.randn(rows, cols)
    t = time.perf_counter()
    compiled(g, 3, torch.float32)
    first = time.perf_counter() - t
    total += first
    timed = {}
    for name, fn in (("compiled", compiled), ("eager", tg.newton_schulz)):
        t = time.perf_counter()
        for _ in range(5):
            fn(g, 3, torch.float32)
        timed[name] = 1000 * (time.perf_counter() - t) / 5
    print(f"ns_compile shape:{rows}x{cols} compile_s:{first:.2f} eager_ms:{timed['eager']:.1f} compiled_ms:{timed['compiled']:.1f}")
print(f"ns_compile total_compile_s:{total:.1f} torch:{torch.__version__}")
