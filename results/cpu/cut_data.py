"""A data folder for the CPU measurements: the validation shard cut to its first DOCS whole documents (each from a
BOS to the next), and links to every training shard.

    python3 results/cpu/cut_data.py DATA OUT DOCS
"""
import os
import sys

import numpy as np

data, out, docs = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(out, exist_ok=True)
head = np.fromfile(f"{data}/fineweb_val_000000.bin", "<i4", 256)
val = np.fromfile(f"{data}/fineweb_val_000000.bin", "<u2", int(head[2]), offset=1024)
cut = np.nonzero(val == 1)[0][docs]  # the BOS that opens document DOCS + 1
head[2] = cut
open(f"{out}/fineweb_val_000000.bin", "wb").write(head.tobytes() + val[:cut].tobytes())
for name in sorted(os.listdir(data)):
    if name.startswith("fineweb_train_") and not os.path.exists(f"{out}/{name}"):
        os.symlink(f"{data}/{name}", f"{out}/{name}")
