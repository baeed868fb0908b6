"""Time, or profile, one process's training steps of train_gpt.py at the step-time comparison's shape
(plain configuration, 4 x 128, sp1024, 8,192-token steps of 8 micro-steps of one 1,024-token sequence).

    python results/cpu/step_time/profile_step.py STEPS            # prints ms/step
    python results/cpu/step_time/profile_step.py STEPS profile    # torch.profiler table over STEPS steps

It runs train_gpt.py of commit dc4234b, fetched with git show (COMMIT= picks another), training on
data/sample. THREADS (default 2) sets torch's threads. Results: docs/measurements.md, "CPU step
time against the challenge baseline"."""
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

COMMIT = os.environ.get("COMMIT", "dc4234b")
ROOT = Path(__file__).resolve().parents[3]
PINNED = Path(tempfile.mkdtemp(prefix=f"train_gpt_{COMMIT}_"))
(PINNED / "train_gpt.py").write_bytes(subprocess.run(["git", "-C", str(ROOT), "show", f"{COMMIT}:train_gpt.py"], check=True, capture_output=True).stdout)
(PINNED / "data").symlink_to(ROOT / "data")  # its cpu_sample defaults read data/sample beside the script
sys.path.insert(0, str(PINNED))
import train_gpt as tg  # noqa: E402

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
env = {"CONFIG_PROFILE": "cpu_sample", "TERNARY_LAYERS": "none", "LOOPS": "1", "TTT": "off", "EVAL_STRIDE": "0", "WARMUP_STEPS": "0",
       "NUM_LAYERS": "4", "MODEL_DIM": "128", "NUM_HEADS": "4", "NUM_KV_HEADS": "2", "MLP_MULT": "2", "TRAIN_SEQ_LEN": "1024",
       "TRAIN_BATCH_TOKENS": "8192", "GRAD_ACCUM_STEPS": "8", "COMPILE_WARMUP_STEPS": "0", "ITERATIONS": sys.argv[1],
       "MAX_WALLCLOCK_SECONDS": "0", "VAL_LOSS_EVERY": "0", "TRAIN_LOG_EVERY": "1000"}
cfg = tg.Hyperparameters.from_env(env=env, cuda=False)
torch.manual_seed(0)
model = tg.GPT(cfg)
if len(sys.argv) > 2:
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        tg.train(model, cfg, tg.Dist(), None, lambda m: None)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
else:
    t = time.perf_counter()
    tg.train(model, cfg, tg.Dist(), None, print)
    print("ms/step", 1000 * (time.perf_counter() - t) / cfg.iterations)
