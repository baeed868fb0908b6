"""Shared helpers: tiny configurations and data so every test runs in seconds on a CPU."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import train_gpt as tg  # noqa: E402

sys.path.insert(0, str(ROOT / "tools"))
import audit_eval  # noqa: E402

SAMPLE = ROOT / "data" / "sample"

settings.register_profile("ci", max_examples=15, deadline=None, derandomize=True)
settings.load_profile("ci")
torch.set_num_threads(2)

TINY = {
    "VOCAB_SIZE": "64", "MODEL_DIM": "32", "NUM_HEADS": "2", "NUM_KV_HEADS": "1", "NUM_LAYERS": "2",
    "MLP_MULT": "2", "TRAIN_SEQ_LEN": "16", "TRAIN_BATCH_TOKENS": "64", "TTT_DOC_CHUNK": "8",
    "EVAL_STRIDE": "4", "VAL_BATCH_SIZE": "64", "PRELUDE_LAYERS": "0", "CODA_LAYERS": "0", "LOOPS": "1",
    "PARALLEL_LAYERS": "0",
}


def tiny_cfg(**env) -> tg.Hyperparameters:
    return tg.Hyperparameters.from_env(env={**TINY, **{k: str(v) for k, v in env.items()}}, cuda=False)


def tiny_model(seed: int = 0, randomize: bool = True, **env) -> tuple[tg.GPT, tg.Hyperparameters]:
    """A tiny model; `randomize` replaces the zero/one initializations so every parameter matters."""
    cfg = tiny_cfg(**env)
    torch.manual_seed(seed)
    model = tg.GPT(cfg)
    if randomize:
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.2)
    return model, cfg


def eval_data(tokens: torch.Tensor) -> tg.EvalData:
    return tg.EvalData(tokens.long(), torch.ones(tokens.numel() - 1, dtype=torch.long))


def write_shard(path, tokens):
    """A challenge shard; the trainer only reads them, so the writer lives with the audit tool."""
    audit_eval.write_shard(path, tokens, tg)


def write_dataset(folder: Path, n_train: int = 20000, n_val: int = 2049, val_offset: int = 0) -> Path:
    """A DATA_PATH folder cut from the bundled sample (real tokens, vocabulary 1024)."""
    folder.mkdir(parents=True, exist_ok=True)
    train = tg.load_shard(SAMPLE / "fineweb_train_000000.bin", 1024)
    val = tg.load_shard(SAMPLE / "fineweb_val_000000.bin", 1024)
    write_shard(folder / "fineweb_train_000000.bin", train[:n_train])
    write_shard(folder / "fineweb_val_000000.bin", val[val_offset : val_offset + n_val])
    return folder


def short_kit_data(tmp_path: Path) -> dict:
    """DATA_PATH and DATA_PATH_1024 of the GPU kits' --cpu-smoke (sp1024 both) as a cut of the sample with 4,097
    validation tokens: each full run scores all of them, gpu_check's smoke its first 4,096, as on the sample."""
    data = str(write_dataset(tmp_path / "data", n_val=4097))
    return {"DATA_PATH": data, "DATA_PATH_1024": data}


def run_script(env: dict, cwd: Path, nproc: int = 0, timeout: int = 240, stderr_to_stdout: bool = False) -> subprocess.CompletedProcess:
    """Runs train_gpt.py as a competitor would: plain python, or torchrun with nproc CPU processes.
    `stderr_to_stdout` keeps the two in the order they were written (torch's logs go to stderr)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_"))}
    full.update({k: str(v) for k, v in env.items()})
    full["OMP_NUM_THREADS"] = "1"
    script = str(ROOT / "train_gpt.py")
    cmd = [sys.executable, script] if not nproc else [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", script]
    if stderr_to_stdout:
        return subprocess.run(cmd, env=full, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    return subprocess.run(cmd, env=full, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def log_values(text: str, prefix: str, key: str) -> list[float]:
    """Every `key:<float>` on lines starting with prefix."""
    out = []
    for line in text.splitlines():
        if line.startswith(prefix) and f" {key}:" in line:
            out.append(float(line.split(f" {key}:")[1].split()[0].rstrip("ms")))
    return out


@pytest.fixture
def sample_env(tmp_path):
    """Environment for a seconds-long end-to-end run of the real script on real tokens."""
    return sample_run_env(tmp_path)


def sample_run_env(tmp_path: Path) -> dict:
    """sample_env's environment, for callers outside pytest (results/ scripts): its dataset goes in tmp_path/data."""
    data = write_dataset(tmp_path / "data")
    return {
        "DATA_PATH": str(data), "TOKENIZER_PATH": str(SAMPLE / "fineweb_1024_bpe.model"), "RUN_ID": "t",
        "MODEL_DIM": "32", "NUM_HEADS": "2", "NUM_KV_HEADS": "1", "NUM_LAYERS": "2", "TRAIN_SEQ_LEN": "32",
        "TRAIN_BATCH_TOKENS": "256", "ITERATIONS": "6", "MAX_WALLCLOCK_SECONDS": "0", "WARMUP_STEPS": "2",
        "WARMDOWN_FRAC": "0.5", "TRAIN_LOG_EVERY": "1", "VAL_BATCH_SIZE": "1024", "EVAL_STRIDE": "16",
        "TTT_DOC_CHUNK": "16",
    }
