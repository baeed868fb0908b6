"""One forward and backward of 19c2231's train_gpt.py against another version's, at a small competition-profile
shape (4 x 64, one prelude, two shared, one coda block), factored embedding or not, bf16 autocast or fp32:
prints whether the loss and every gradient are the same bit for bit.

    OMP_NUM_THREADS=1 python results/cpu/refactor/19c2231/same_step.py [COMMIT]   (default: the working tree)
"""

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[4]


def script(commit: str | None) -> Path:
    if commit is None:
        return ROOT / "train_gpt.py"
    path = Path(tempfile.mkdtemp()) / f"train_gpt_{commit}.py"
    path.write_bytes(subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:train_gpt.py"], check=True,
                                    capture_output=True).stdout)
    return path


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def step(tg, env: dict, autocast: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
    cfg = tg.Hyperparameters.from_env(env, cuda=False)
    torch.manual_seed(0)
    model = tg.GPT(cfg)
    idx = torch.randint(0, 1024, (2, 32), generator=torch.Generator().manual_seed(1))
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        objective, loss = model(idx, idx)
    objective.backward()
    return loss.detach(), [p.grad.clone() for p in model.parameters()]


def main():
    before = load(script("19c2231"), "before")
    after = load(script(sys.argv[1] if len(sys.argv) > 1 else None), "after")
    base = dict(CONFIG_PROFILE="competition", NUM_LAYERS="4", PRELUDE_LAYERS="1", CODA_LAYERS="1", PARALLEL_LAYERS="1",
                MODEL_DIM="64", NUM_HEADS="4", NUM_KV_HEADS="2", MLP_MULT="2", VOCAB_SIZE="1024", TRAIN_SEQ_LEN="32",
                TERNARY_GROUP="0", TTT="off")
    for embed in ("16", "0"):
        for autocast in ("bf16", "off"):
            env = {**base, "EMBED_DIM": embed, "AUTOCAST": autocast}
            (l0, g0), (l1, g1) = (step(tg, env, autocast == "bf16") for tg in (before, after))
            same = torch.equal(l0, l1) and all(torch.equal(a, b) for a, b in zip(g0, g1))
            print(f"EMBED_DIM={embed} AUTOCAST={autocast}: loss {l0.item():.6f}, same loss and gradients: {same}")


if __name__ == "__main__":
    main()
