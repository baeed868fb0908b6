"""Parameter Golf trainer: ternary QAT, depth recurrence and score-first test-time training in one file.

Reads top to bottom as the data flows: configuration, distributed setup, data, metric, model
(with its two seams, BitLinear and RecurrentBlockGroup), optimizers, training, export (packing),
evaluation (sliding window, test-time training), main(). Every knob is an environment variable
listed in `Hyperparameters`; nothing runs at import time.
"""

from __future__ import annotations

import dataclasses
import difflib
import glob
import hashlib
import importlib
import itertools
import json
import math
import os
import struct
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

if __name__ == "__main__":  # a missing or broken package is a message, not a traceback (an import, as in tests, still raises)
    for _name in ("numpy", "sentencepiece", "torch", "zstandard"):
        try:
            importlib.import_module(_name)
        except Exception as exc:
            missing = isinstance(exc, ModuleNotFoundError) and exc.name == _name
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            print(f"error: {_name} is not installed: pip install {_name}" if missing else f"error: {_name} failed to import "
                  f"({why}): reinstall it with pip install --force-reinstall {_name}", file=sys.stderr)
            sys.exit(2)

import numpy as np
import sentencepiece as spm
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
import zstandard
from torch import Tensor

HERE = Path(__file__).resolve().parent
SAMPLE_DIR = HERE / "data" / "sample"
DOWNLOAD_HINT = ("download the challenge data inside a checkout of github.com/openai/parameter-golf with "
                 "`python3 data/cached_challenge_fineweb.py --variant sp{vocab}`, or point DATA_PATH and TOKENIZER_PATH at it")

# ---- Configuration ----------------------------------------------------------
# Every knob is a field of one dataclass and the environment variable of its name in upper case, parsed by its
# default's type and checked in `from_env` before any work. "(ternary record)": the 1.1570 BPB record's value.

class RunError(ValueError):
    """A run that cannot go on: `main` prints `error: <message>` and exits with `status`."""
    status = 2

class ConfigError(RunError):
    """A bad environment variable or a configuration that cannot run; raised before any work."""

def knob(default, doc: str, cpu=None, check=None, cuda=None, model=False):
    """`cpu=`, `cuda=`: the CPU profile's and any CUDA device's defaults; `model=True`: the artifact records it."""
    return field(default=default, metadata={"doc": doc, "cpu": cpu, "check": check, "cuda": cuda, "model": model})

POSITIVE = (lambda v: v > 0, "a value > 0")
NON_NEGATIVE = (lambda v: v >= 0, "a value >= 0")
FRACTION = (lambda v: 0 <= v <= 1, "a value in [0, 1]")
BELOW_ONE = (lambda v: 0 <= v < 1, "a value in [0, 1)")

def one_of(*choices):
    return (lambda v: v in choices, "one of " + "|".join(choices))

@dataclass
class Hyperparameters:
    # Run and data.
    data_path: str = knob("./data/datasets/fineweb10B_sp8192", "folder of fineweb_{train,val}_*.bin shards", cpu=str(SAMPLE_DIR))
    tokenizer_path: str = knob("./data/tokenizers/fineweb_8192_bpe.model", "SentencePiece model", cpu=str(SAMPLE_DIR / "fineweb_1024_bpe.model"))
    run_id: str = knob("", "log and artifact name; empty = a timestamp")
    seed: int = knob(1337, "random seed", check=NON_NEGATIVE)
    config_profile: str = knob("auto", "auto (competition with CUDA, cpu_sample without) | competition | cpu_sample", check=one_of("auto", "competition", "cpu_sample"))
    # Device choices: each defaults by device, and each can be forced, so that a CPU rehearses the GPU's path.
    compile: bool = knob(False, "torch.compile (fullgraph) the training and evaluation forwards; on CPU too", cuda=True)
    compile_backend: str = knob("inductor", "torch.compile backend; aot_eager: the same graphs and guards, no kernels", check=one_of("inductor", "aot_eager", "eager"))
    autocast: str = knob("off", "bf16 autocast of the forward, or off (fp32)", cuda="bf16", check=one_of("bf16", "off"))
    fused_adam: bool = knob(False, "AdamW's fused kernel", cuda=True)
    muon_dtype: str = knob("fp32", "dtype of Newton-Schulz and of Muon's update exchange between ranks", cuda="bf16", check=one_of("bf16", "fp32"))
    grad_reduce_dtype: str = knob("fp32", "dtype of the gradient exchange between ranks", cuda="bf16", check=one_of("bf16", "fp32"))
    sdpa_backend: str = knob("auto", "attention kernel (auto = torch's choice, which changes with its version)", cuda="flash", check=one_of("auto", "flash", "cudnn", "efficient", "math"))
    # Model shape.
    vocab_size: int = knob(8192, "tokenizer vocabulary size (8192: ternary record)", cpu=1024, check=POSITIVE, model=True)
    num_layers: int = knob(10, "stored blocks: PRELUDE_LAYERS, then the shared blocks (the rest), then CODA_LAYERS", cpu=4, check=POSITIVE, model=True)
    prelude_layers: int = knob(4, "unique blocks before the shared group (4, then 2 looped twice from 0.5, then 4: record 2026-03-31_ParallelResiduals_MiniDepthRecurrence's loop of layers 4-5)", cpu=0, check=NON_NEGATIVE, model=True)
    loops: int = knob(2, "times the shared blocks run per forward", cpu=1, check=POSITIVE, model=True)
    coda_layers: int = knob(4, "unique blocks after the shared group", cpu=0, check=NON_NEGATIVE, model=True)
    progressive_loss_loops: str = knob("", "comma list of loops (from 1) whose output also gets a training loss", check=(lambda v: all(p.strip().isdigit() for p in v.split(",") if p.strip()), "a comma list of loop numbers"))
    progressive_loss_weight: float = knob(0.1, "weight of each progressive loss term", check=NON_NEGATIVE)
    loop_start_frac: float = knob(0.5, "training progress from which the shared blocks run LOOPS times instead of once (0.5: record 2026-03-31_ParallelResiduals_MiniDepthRecurrence, step 3000 of 6242)", check=FRACTION)
    model_dim: int = knob(768, "residual width", cpu=128, check=POSITIVE, model=True)
    num_heads: int = knob(8, "attention heads (8, head size 96: ternary record)", cpu=4, check=POSITIVE, model=True)
    num_kv_heads: int = knob(4, "key/value heads (grouped-query attention)", cpu=2, check=POSITIVE, model=True)
    mlp_mult: int = knob(4, "MLP hidden = MLP_MULT * MODEL_DIM", cpu=2, check=POSITIVE, model=True)
    embed_dim: int = knob(254, "factored tied embedding: vocab x EMBED_DIM, learned projections to and from MODEL_DIM; 0 = vocab x MODEL_DIM (254: ternary record)", cpu=0, check=NON_NEGATIVE, model=True)
    unet_skips: bool = knob(True, "U-Net skips: executed block i of the first half feeds, times learned per-channel weights (init 1), the input of its mirror (ternary record)", cpu=False, model=True)
    rope_base: float = knob(5000.0, "rotary embedding base (5000: ternary record)", cpu=10000.0, check=POSITIVE, model=True)
    parallel_layers: int = knob(4, "the last PARALLEL_LAYERS stored blocks run attention and MLP on the same input, summed (4, the coda: record 2026-04-08_SP8192_ParallelResid_ScoreFirstTTT's layers 7+ of 11)", cpu=0, check=NON_NEGATIVE, model=True)
    smear_gate: bool = knob(True, "add l * sigmoid(w . x[:12]) of the previous token's embedding, never across a BOS (l, w zero at init) (on: record 2026-04-16_SmearGate_AttentionOutputGate_ScoreFirstTTT)", cpu=False, model=True)
    logit_softcap: float = knob(10.0, "logits = c * tanh(logits / c) (10: ternary record)", cpu=30.0, check=POSITIVE, model=True)
    qk_gain_init: float = knob(2.25, "initial per-head query gain (2.25: ternary record)", cpu=1.5, check=POSITIVE, model=True)
    tied_embed_init_std: float = knob(0.005, "init std of the tied embedding", check=POSITIVE, model=True)
    # Ternary quantization-aware training.
    ternary_layers: str = knob("attn,mlp", "block linears that are ternary: comma list of attn, mlp, or none", check=(lambda v: v.strip() == "none" or set(v.replace(" ", "").split(",")) <= {"attn", "mlp"}, "a comma list of attn, mlp, or none"), model=True)
    ternary_scale: str = knob("absmean", "ternary scale estimator", check=one_of("absmean", "absmedian"), model=True)
    ternary_group: int = knob(128, "input columns per ternary scale; 0 = one scale per output row (128: ternary record)", cpu=0, check=NON_NEGATIVE, model=True)
    qat_start_frac: float = knob(0.0, "training progress before which the ternary forward is off (0: ternary record)", cpu=0.5, check=FRACTION)
    # Training. Progress is the larger of elapsed / MAX_WALLCLOCK_SECONDS and step / ITERATIONS (`progress`).
    iterations: int = knob(20000, "maximum optimizer steps", check=POSITIVE)
    max_wallclock_seconds: float = knob(600.0, "training wall-clock cap; 0 = none", cpu=120.0, check=NON_NEGATIVE)
    warmup_steps: int = knob(0, "learning-rate warm-up steps (none: ternary record)", cpu=10, check=NON_NEGATIVE)
    warmdown_frac: float = knob(0.2, "learning-rate warm-down to 0 over this last fraction of training progress (0.2: ternary record)", cpu=0.8, check=FRACTION)
    warmdown_floor: float = knob(0.1, "the warm-down stops at this fraction of the peak learning rate (0.1: record 2026-04-23_SP8192_CaseOps_SparseGate_QuantGate_Loop45_PhasedTTT_PolarNS_MinLR_FusedCE)", cpu=0.0, check=FRACTION)
    compile_warmup_steps: int = knob(20, "untimed steps that prime torch.compile, then state is reset", cpu=0, check=NON_NEGATIVE)
    train_seq_len: int = knob(1024, "training sequence length", cpu=256, check=POSITIVE)
    train_batch_tokens: int = knob(524288, "global tokens per optimizer step", cpu=8192, check=POSITIVE)
    grad_accum_steps: int = knob(0, "micro-steps per optimizer step; 0 = 8 // world size on CUDA, 1 on CPU", check=NON_NEGATIVE)
    val_loss_every: int = knob(1000, "steps between validation passes during training (and at its end); 0 = none, the final evaluation always runs", cpu=100, check=NON_NEGATIVE)
    val_batch_size: int = knob(524288, "global tokens per evaluation batch", cpu=16384, check=POSITIVE)
    train_log_every: int = knob(200, "steps between train-loss log lines", cpu=25, check=POSITIVE)
    sync_every: int = knob(10, "steps between the host's reads of the device: the agreed clock and the non-finite-loss check (10: ternary record)", check=POSITIVE)
    # Optimizers.
    matrix_lr: float = knob(0.04, "Muon learning rate (block matrices, embedding projections)", check=POSITIVE)
    scalar_lr: float = knob(0.02, "Adam learning rate of vectors and scalars (0.02: ternary record)", cpu=0.04, check=POSITIVE)
    tied_embed_lr: float = knob(0.02, "Adam learning rate of the tied embedding (0.02: ternary record)", cpu=0.05, check=POSITIVE)
    muon_momentum: float = knob(0.95, "Muon momentum", check=FRACTION)
    muon_momentum_warmup_start: float = knob(0.85, "Muon momentum at step 0", check=FRACTION)
    muon_momentum_warmup_steps: int = knob(500, "steps to reach MUON_MOMENTUM", cpu=50, check=NON_NEGATIVE)
    muon_backend_steps: int = knob(3, "Newton-Schulz iterations (3: ternary record, equal to 5 at 600 s)", cpu=5, check=POSITIVE)
    muon_row_norm: bool = knob(True, "NeoMuon: each row of the update at unit RMS before Newton-Schulz (ternary record)", cpu=False)
    beta1: float = knob(0.9, "Adam beta1", check=BELOW_ONE)
    beta2: float = knob(0.95, "Adam beta2", check=BELOW_ONE)
    adam_eps: float = knob(1e-8, "Adam epsilon", check=POSITIVE)
    grad_clip_norm: float = knob(0.0, "global gradient-norm clip; 0 = off", check=NON_NEGATIVE)
    # Export.
    artifact_limit: int = knob(16_000_000, "bytes of code + compressed model", check=POSITIVE)
    artifact_path: str = knob("", "where the artifact is written; empty = artifacts/<RUN_ID>.pgolf")
    int_bits: int = knob(8, "most bits of non-ternary block matrices: export takes the most that fit, down to 4", check=(lambda v: 2 <= v <= 8, "an integer in 2..8"))
    embed_bits: int = knob(8, "most bits of the embedding and its projections: export takes the most that fit, down to 5", check=(lambda v: 2 <= v <= 8, "an integer in 2..8"))
    eval_artifact: str = knob("", "evaluate this artifact and skip training")
    # Evaluation.
    eval_seq_len: int = knob(0, "evaluation window; 0 = TRAIN_SEQ_LEN", check=NON_NEGATIVE)
    eval_stride: int = knob(0, "stride of a sliding-window pass: the score with TTT=off, a diagnostic before TTT=doc; 0 = none (TTT=doc scores)", cpu=64, check=NON_NEGATIVE)
    eval_budget_seconds: float = knob(600.0, "evaluation time budget; TTT stops adapting when projected over it", check=POSITIVE)
    eval_dump: str = knob("", "write per-target NLL (nats, float32, .npy) of the final evaluation here")
    ttt: str = knob("doc", "score-first test-time training, the final score: doc = per-document LoRA; off = none", check=one_of("off", "doc"))
    ttt_doc_chunk: int = knob(48, "TTT=doc: targets a document scores, then adapts on, per step (at most EVAL_SEQ_LEN) (48: top record)", cpu=64, check=POSITIVE)
    ttt_doc_batch: int = knob(64, "TTT=doc: documents adapted side by side, each with its own adapters", cpu=8, check=POSITIVE)
    ttt_lora_rank: int = knob(80, "TTT=doc: rank of each document's LoRA adapters (80: top record)", cpu=8, check=POSITIVE)
    ttt_lr: float = knob(1e-4, "TTT=doc: AdamW learning rate of the adapters (1e-4: top record)", cpu=0.003, check=POSITIVE)
    ttt_beta1: float = knob(0.0, "TTT=doc: AdamW beta1 (0: top record)", cpu=0.9, check=BELOW_ONE)
    ttt_beta2: float = knob(0.99, "TTT=doc: AdamW beta2 (0.99: top record)", cpu=0.999, check=BELOW_ONE)
    ttt_weight_decay: float = knob(0.5, "TTT=doc: AdamW decoupled weight decay of the adapters (0.5: top record)", cpu=0.0, check=NON_NEGATIVE)

    profile_reason: str = field(default="", metadata={"internal": True})

    @classmethod
    def knobs(cls):
        return [f for f in dataclasses.fields(cls) if not f.metadata.get("internal")]

    @classmethod
    def from_env(cls, env=None, cuda: bool | None = None) -> "Hyperparameters":
        env = os.environ if env is None else env
        cuda = torch.cuda.is_available() if cuda is None else cuda
        for name in env:
            if message := refused_variable(name):
                raise ConfigError(message)
        profile = env.get("CONFIG_PROFILE", "auto")
        if profile == "auto":
            profile = "competition" if cuda else "cpu_sample"
            reason = ("CUDA found: competition shape" if cuda else
                      "no CUDA device: a small model on data/sample that finishes on 2 CPU cores in about 3 minutes")
        else:
            reason = "CONFIG_PROFILE set"
        values = {}
        for f in cls.knobs():
            name, meta = f.name.upper(), f.metadata
            default = meta["cpu"] if profile == "cpu_sample" and meta["cpu"] is not None else f.default
            default = meta["cuda"] if cuda and meta["cuda"] is not None else default
            raw = env.get(name)
            unset = raw is None or (raw == "" and not isinstance(f.default, str))
            value = default if unset else parse_value(name, raw, type(f.default))
            if meta["check"] is not None and not meta["check"][0](value):
                raise ConfigError(f"{name}={value!r} is not allowed: expected {meta['check'][1]}")
            values[f.name] = value
        values["config_profile"] = profile
        return cls(**values, profile_reason=reason).validated()

    def validated(self) -> "Hyperparameters":
        """Cross-field checks, and the defaults that follow from other knobs."""
        if self.num_layers <= self.prelude_layers + self.coda_layers:
            raise ConfigError(f"NUM_LAYERS={self.num_layers} leaves no shared block after PRELUDE_LAYERS={self.prelude_layers} "
                              f"and CODA_LAYERS={self.coda_layers}: raise NUM_LAYERS or lower them")
        if self.model_dim % self.num_heads or (self.model_dim // self.num_heads) % 2:
            raise ConfigError(f"MODEL_DIM={self.model_dim} must be a multiple of NUM_HEADS={self.num_heads} "
                              "with an even head size")
        if self.parallel_layers > self.num_layers:
            raise ConfigError(f"PARALLEL_LAYERS={self.parallel_layers} is more than NUM_LAYERS={self.num_layers}")
        if self.num_heads % self.num_kv_heads:
            raise ConfigError(f"NUM_HEADS={self.num_heads} must be a multiple of NUM_KV_HEADS={self.num_kv_heads}")
        if self.ternary_group and self.ternary_kinds:
            widths = {self.model_dim, self.model_dim * self.mlp_mult}
            if any(w % self.ternary_group for w in widths):
                raise ConfigError(f"TERNARY_GROUP={self.ternary_group} must divide the layer widths {sorted(widths)}")
        if self.aux_loops and (self.loops == 1 or not all(1 <= loop <= self.loops for loop in self.aux_loops)):
            raise ConfigError(f"PROGRESSIVE_LOSS_LOOPS={self.progressive_loss_loops!r}: list loops 1..LOOPS={self.loops}, "
                              "which must be > 1")
        self.eval_seq_len = self.eval_seq_len or self.train_seq_len
        if self.eval_stride > self.eval_seq_len:
            raise ConfigError(f"EVAL_STRIDE={self.eval_stride} must be at most EVAL_SEQ_LEN={self.eval_seq_len}")
        if self.ttt == "doc" and self.ttt_doc_chunk > self.eval_seq_len:
            raise ConfigError(f"TTT_DOC_CHUNK={self.ttt_doc_chunk} must be at most EVAL_SEQ_LEN={self.eval_seq_len}: "
                              "a chunk is scored in one window")
        return self

    @property
    def ternary_kinds(self) -> set[str]:
        return set(self.ternary_layers.replace(" ", "").split(",")) - {"none"}

    @property
    def aux_loops(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self.progressive_loss_loops.split(",") if v.strip())

    def model_config(self) -> dict:
        return {f.name: getattr(self, f.name) for f in self.knobs() if f.metadata["model"]}

def parse_value(name: str, raw: str, kind: type):
    try:
        return {"0": False, "1": True, "false": False, "true": True}[raw.lower()] if kind is bool else kind(raw)
    except (KeyError, ValueError):
        raise ConfigError(f"{name}={raw!r} is not a valid {kind.__name__}") from None

KNOB_NAMES = [f.name.upper() for f in Hyperparameters.knobs()]
KNOB_FAMILIES = tuple(sorted({w + "_" for w in (k.split("_")[0] for k in KNOB_NAMES if "_" in k)
                              if sum(k.startswith(w + "_") for k in KNOB_NAMES) >= 2}))

REMOVED = {"LOOP_INJECT", "LOOP_NORM", "LOOP_RANK", "TIE_EMBEDDINGS", "HEAD_LR", "ADAM_WD", "MLP_LEAK", "ROPE_DIMS",
           "LN_SCALE", "XSA_LAYERS", "ATTN_GATE", "SHARED_BLOCKS"}

def refused_variable(name: str) -> str | None:
    """Why a name meant for us stops the run: a near miss of a knob, in a knob family, or REMOVED (docs/measurements.md)."""
    if name in REMOVED:
        return f"{name} was removed from train_gpt.py (docs/measurements.md says why); unset it"
    if name in KNOB_NAMES:
        return None
    ratio = {k: difflib.SequenceMatcher(None, name, k).ratio() for k in KNOB_NAMES}
    near = any(r >= min(0.8, 1 - 1 / len(k)) for k, r in ratio.items())  # one typed character, or difflib's 0.8
    if near or name.startswith(KNOB_FAMILIES):
        return f"{name} is not a variable of train_gpt.py; did you mean {max(ratio, key=ratio.get)}?"
    return None


# ---- Distributed setup and logging ------------------------------------------

@dataclass
class Context:
    """This process's place in the run: its rank, the number of ranks and its device."""
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    def all_reduce(self, t: Tensor, op=dist.ReduceOp.SUM) -> Tensor:
        if self.world > 1:
            dist.all_reduce(t, op=op)
        return t

    def any(self, flag: bool) -> bool:
        """True on every rank if it is true on any: ranks must take the same branch."""
        return bool(self.all_reduce(torch.tensor([float(flag)], device=self.device), dist.ReduceOp.MAX).item())

def setup_distributed() -> Context:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Context(rank, world, device)

def resolve_run_id(cfg: Hyperparameters, ctx: Context) -> str:
    if cfg.run_id:
        return cfg.run_id
    # Rank 0's clock names the run so that every rank writes and reads the same artifact path.
    stamp = torch.tensor([int(time.strftime("%Y%m%d%H%M%S"))], dtype=torch.int64, device=ctx.device)
    if ctx.world > 1:
        dist.broadcast(stamp, 0)
    return f"run_{stamp.item()}"

Logger = Callable[[str], None]

def open_log(path: Path | None) -> Logger:
    """Rank 0's log: each line to stdout and to the log file. Other ranks (no path) log nothing."""
    def log(msg: str):
        if path is not None:
            print(msg, flush=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as f:
                f.write(msg + "\n")
    return log


# ---- Data: the challenge shard format ---------------------------------------
# 256 little-endian int32 (magic 20240520, version 1, token count, zeros), then that many uint16 tokens. Every
# shard is checked before training, so a bad one costs seconds.

SHARD_MAGIC, SHARD_VERSION, SHARD_HEADER_INTS = 20240520, 1, 256
BOS_ID = 1

class DataError(RunError):
    """Missing or corrupt data or tokenizer."""

def shard_token_count(path: str | Path) -> int:
    size = os.path.getsize(path)
    header = np.fromfile(path, dtype="<i4", count=SHARD_HEADER_INTS)
    if header.size < SHARD_HEADER_INTS or header[0] != SHARD_MAGIC or header[1] != SHARD_VERSION:
        raise DataError(f"{path}: not a challenge shard (bad header: expected magic {SHARD_MAGIC} and version "
                        f"{SHARD_VERSION}); re-download it")
    n = int(header[2])
    if size != SHARD_HEADER_INTS * 4 + 2 * n:
        raise DataError(f"{path}: header says {n} tokens but the file holds {(size - SHARD_HEADER_INTS * 4) / 2:g}; "
                        "the shard is truncated or corrupt, re-download it")
    return n

def load_shard(path: str | Path, vocab_size: int) -> np.ndarray:
    n = shard_token_count(path)
    tokens = np.fromfile(path, dtype="<u2", count=n, offset=SHARD_HEADER_INTS * 4)
    if n and int(tokens.max()) >= vocab_size:
        raise DataError(f"{path}: token id {int(tokens.max())} is outside VOCAB_SIZE={vocab_size}; "
                        "wrong tokenizer variant or corrupt shard")
    return tokens

def shard_files(cfg: Hyperparameters, split: str) -> list[str]:
    files = sorted(glob.glob(os.path.join(cfg.data_path, f"fineweb_{split}_*.bin")))
    if not files:
        raise DataError(f"no fineweb_{split}_*.bin shards in DATA_PATH={cfg.data_path}: "
                        + DOWNLOAD_HINT.format(vocab=cfg.vocab_size))
    for f in files:
        shard_token_count(f)
    return files

class DistributedTokenLoader:
    """The shards in order, wrapping around. Each call takes the next global span and rank r its r-th slice: one
    process and N see the same sequences. The next shard loads in a background thread, so no step waits on disk."""

    def __init__(self, files: list[str], cfg: Hyperparameters, ctx: Context):
        self.files, self.vocab_size, self.seq_len, self.ctx = files, cfg.vocab_size, cfg.train_seq_len, ctx
        self.index, self.tokens, self.pos = 0, load_shard(files[0], cfg.vocab_size), 0
        self.reader = ThreadPoolExecutor(1)
        self.next = self.reader.submit(load_shard, files[1 % len(files)], cfg.vocab_size)

    def take(self, n: int) -> np.ndarray:
        parts = []
        while n > 0:
            if self.pos >= len(self.tokens):
                self.index = (self.index + 1) % len(self.files)
                self.tokens, self.pos = self.next.result(), 0
                self.next = self.reader.submit(load_shard, self.files[(self.index + 1) % len(self.files)], self.vocab_size)
            parts.append(self.tokens[self.pos : self.pos + n])
            self.pos += len(parts[-1])
            n -= len(parts[-1])
        return np.concatenate(parts)

    def next_batch(self, global_tokens: int) -> tuple[Tensor, Tensor]:
        local = global_tokens // self.ctx.world
        span = self.take(global_tokens + 1)
        self.pos -= 1  # the last target is the next span's first input
        mine = torch.from_numpy(span[self.ctx.rank * local : (self.ctx.rank + 1) * local + 1].astype(np.int64))
        mine = mine.pin_memory() if self.ctx.device.type == "cuda" else mine
        x, y = mine[:-1].view(-1, self.seq_len), mine[1:].view(-1, self.seq_len)
        return x.to(self.ctx.device, non_blocking=True), y.to(self.ctx.device, non_blocking=True)


# ---- Metric: bits per byte from the SentencePiece pieces --------------------
# Summed NLL in bits over the UTF-8 bytes of the scored text. A piece's bytes are its text without the leading "▁",
# which is one more byte unless the previous token is a boundary (control/unknown/unused: 0 bytes themselves).

@dataclass
class ByteTables:
    base_bytes: Tensor
    has_leading_space: Tensor
    is_boundary: Tensor

    @classmethod
    def from_tokenizer(cls, sp: spm.SentencePieceProcessor, vocab_size: int) -> "ByteTables":
        size = max(int(sp.vocab_size()), vocab_size)
        base, space, boundary = np.zeros(size, np.int16), np.zeros(size, np.bool_), np.ones(size, np.bool_)
        for i in range(int(sp.vocab_size())):
            if sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i):
                continue
            boundary[i], piece = False, sp.id_to_piece(i)
            space[i] = piece.startswith("\u2581")  # byte pieces (<0x..>) never do
            base[i] = 1 if sp.is_byte(i) else len(piece.removeprefix("\u2581").encode("utf-8"))
        return cls(torch.from_numpy(base), torch.from_numpy(space), torch.from_numpy(boundary))

    def target_bytes(self, tokens: Tensor) -> Tensor:
        """Bytes of each target tokens[t + 1] given its predecessor tokens[t]; length len(tokens) - 1."""
        prev, tgt = tokens[:-1].long().cpu(), tokens[1:].long().cpu()
        return self.base_bytes[tgt].long() + (self.has_leading_space[tgt] & ~self.is_boundary[prev]).long()

def load_tokenizer(cfg: Hyperparameters) -> spm.SentencePieceProcessor:
    if not os.path.isfile(cfg.tokenizer_path):
        raise DataError(f"tokenizer not found at TOKENIZER_PATH={cfg.tokenizer_path}: "
                        + DOWNLOAD_HINT.format(vocab=cfg.vocab_size))
    sp = spm.SentencePieceProcessor()
    try:
        sp.Load(cfg.tokenizer_path)
    except (OSError, RuntimeError) as e:
        raise DataError(f"TOKENIZER_PATH={cfg.tokenizer_path} is not a SentencePiece model ({e})") from None
    if int(sp.vocab_size()) != cfg.vocab_size:
        raise DataError(f"tokenizer has {sp.vocab_size()} pieces but VOCAB_SIZE={cfg.vocab_size}; use the matching tokenizer")
    return sp

@dataclass
class EvalData:
    tokens: Tensor  # every validation token, int64 on the device
    target_bytes: Tensor  # bytes of each of the len(tokens) - 1 targets, on the device

def load_eval_data(cfg: Hyperparameters, ctx: Context) -> EvalData:
    tables = ByteTables.from_tokenizer(load_tokenizer(cfg), cfg.vocab_size)
    tokens = np.concatenate([load_shard(f, cfg.vocab_size) for f in shard_files(cfg, "val")])
    if len(tokens) < 2:
        raise DataError(f"validation shards in DATA_PATH={cfg.data_path} hold fewer than 2 tokens")
    tokens = torch.from_numpy(tokens.astype(np.int64))
    return EvalData(tokens.to(ctx.device), tables.target_bytes(tokens).to(ctx.device))


# ---- Model ------------------------------------------------------------------
# A baseline-class GPT. Every block linear comes from `make_linear`, the seam where BitLinear replaces CastedLinear.

TERNARY_MIN_SCALE = 2.0**-14  # smallest normal fp16: scales are stored in fp16

class CastedLinear(nn.Linear):
    """fp32 master weights, multiplied in the activation dtype. During doc TTT `lora` holds per-document adapters
    (A: docs x r x in, B: docs x out x r): row i adds B_i A_i x to the artifact's unchanged weights."""

    def __init__(self, fan_in: int, fan_out: int, zero_init: bool = False):
        super().__init__(fan_in, fan_out, bias=False)
        self.lora: tuple[Tensor, Tensor] | None = None  # an instance attribute always: compiled graphs guard on it
        if zero_init:
            nn.init.zeros_(self.weight)

    def effective_weight(self) -> Tensor:
        return self.weight

    def forward(self, x: Tensor) -> Tensor:
        y = F.linear(x, self.effective_weight().to(x.dtype))
        if self.lora is not None:
            a, b = self.lora
            y = y + (x @ a.mT) @ b.mT
        return y

def ternary_quantize(w: Tensor, group: int, scale_kind: str) -> tuple[Tensor, Tensor]:
    """Trits in {-1, 0, 1} of shape (rows, groups, group) and fp16-exact scales (rows, groups, 1)."""
    rows, cols = w.shape
    wg = w.reshape(rows, cols // (group or cols), group or cols)
    a = wg.abs()
    s = a.mean(-1, keepdim=True) if scale_kind == "absmean" else a.median(-1, keepdim=True).values
    s = round_to_fp16(s.clamp(TERNARY_MIN_SCALE, 60000.0))
    return (wg / s).round().clamp(-1, 1), s

def round_to_fp16(x: Tensor) -> Tensor:
    """fp32 -> the nearest fp16 value, as fp32, by bit arithmetic: torch.compile drops a plain .half().float() trip."""
    bits = x.float().contiguous().view(torch.int32)
    bits = (bits + 0x0FFF + ((bits >> 13) & 1)) & ~0x1FFF
    return bits.view(torch.float32)

class BitLinear(CastedLinear):
    """Ternary {-1, 0, +1} * scale forward, straight-through to fp32 latents; `qat` is a buffer so compiled graphs read it."""

    def __init__(self, fan_in: int, fan_out: int, group: int, scale_kind: str, zero_init: bool = False):
        super().__init__(fan_in, fan_out, zero_init)
        self.group, self.scale_kind = group, scale_kind
        self.register_buffer("qat", torch.zeros(()), persistent=False)

    def quantized_weight(self) -> Tensor:
        trits, s = ternary_quantize(self.weight.detach().float(), self.group, self.scale_kind)
        return (trits * s).reshape(self.weight.shape)

    def effective_weight(self) -> Tensor:
        w, q = self.weight, self.quantized_weight()
        # Value: q when qat == 1, w when 0, exactly (no w + (q - w) rounding). Gradient: identity.
        return (w - w.detach()) + (self.qat * q + (1 - self.qat) * w.detach())

def make_linear(fan_in: int, fan_out: int, kind: str, cfg: Hyperparameters, zero_init: bool = False) -> CastedLinear:
    if kind in cfg.ternary_kinds:
        return BitLinear(fan_in, fan_out, cfg.ternary_group, cfg.ternary_scale, zero_init)
    return CastedLinear(fan_in, fan_out, zero_init)

def rms_norm(x: Tensor) -> Tensor:
    return F.rms_norm(x, (x.size(-1),))

def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos + x2 * sin, x2 * cos - x1 * sin), dim=-1)

GATE_DIMS = 12  # input dims the smear gate reads (the records')

SDPA_SWITCHES = {"flash": torch.backends.cuda.enable_flash_sdp, "cudnn": torch.backends.cuda.enable_cudnn_sdp,
                 "efficient": torch.backends.cuda.enable_mem_efficient_sdp, "math": torch.backends.cuda.enable_math_sdp}

def pin_attention(cfg: Hyperparameters, ctx: Context, log: Logger):
    """Pins SDPA to SDPA_BACKEND (torch's own pick moves with its version: 2.5.0 picked cuDNN, whose bf16 backward
    gave NaNs) and runs it once at the configured shape: a backend that cannot stops the run before the timer."""
    for name, enable in SDPA_SWITCHES.items():
        enable(cfg.sdpa_backend in ("auto", name))
    hd, dtype = cfg.model_dim // cfg.num_heads, torch.bfloat16 if cfg.autocast == "bf16" else torch.float32
    q, kv = (torch.zeros(1, h, max(cfg.train_seq_len, cfg.eval_seq_len), hd, device=ctx.device, dtype=dtype, requires_grad=True)
             for h in (cfg.num_heads, cfg.num_kv_heads))
    try:
        F.scaled_dot_product_attention(q, kv, kv, is_causal=True, enable_gqa=cfg.num_kv_heads != cfg.num_heads).sum().backward()
    except RuntimeError as exc:
        raise ConfigError(f"SDPA_BACKEND={cfg.sdpa_backend} cannot run attention with {cfg.num_heads}/{cfg.num_kv_heads} "
                          f"heads of size {hd} in {dtype} on {ctx.device.type} ({str(exc).splitlines()[0][:200]}): "
                          "choose another backend or SDPA_BACKEND=auto") from None
    log(f"attention backend:{cfg.sdpa_backend}")

class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: Hyperparameters):
        super().__init__()
        dim, self.heads, self.kv_heads = cfg.model_dim, cfg.num_heads, cfg.num_kv_heads
        self.head_dim = dim // cfg.num_heads
        self.split = (dim, self.kv_heads * self.head_dim, self.kv_heads * self.head_dim)
        # q, k and v in one matmul. Per-row ternary scales equal those of three matrices, and Muon
        # orthogonalizes the three row blocks separately (`param_groups`), so only the kernel count changes.
        self.c_qkv = make_linear(dim, sum(self.split), "attn", cfg)
        self.proj = make_linear(dim, dim, "attn", cfg, zero_init=True)
        self.q_gain = nn.Parameter(torch.full((cfg.num_heads,), cfg.qk_gain_init))

    def forward(self, x: Tensor, rope: tuple[Tensor, Tensor]) -> Tensor:
        B, T, D = x.shape
        q, k, v = self.c_qkv(x).split(self.split, dim=-1)
        q = q.reshape(B, T, self.heads, self.head_dim).transpose(1, 2)
        k, v = (t.reshape(B, T, self.kv_heads, self.head_dim).transpose(1, 2) for t in (k, v))
        cos, sin = (r.to(q.dtype) for r in rope)  # fp32 tables; under autocast q and k are bf16
        q, k = apply_rotary(rms_norm(q), cos, sin), apply_rotary(rms_norm(k), cos, sin)
        q = q * self.q_gain.to(q.dtype)[None, :, None, None]
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=self.kv_heads != self.heads)
        return self.proj(y.transpose(1, 2).reshape(B, T, D))

class MLP(nn.Module):
    def __init__(self, cfg: Hyperparameters):
        super().__init__()
        hidden = cfg.mlp_mult * cfg.model_dim
        self.fc = make_linear(cfg.model_dim, hidden, "mlp", cfg)
        self.proj = make_linear(hidden, cfg.model_dim, "mlp", cfg, zero_init=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(F.relu(self.fc(x)).square())

class Block(nn.Module):
    """Stored block `layer` (from 0); the last PARALLEL_LAYERS stored blocks run the parallel form."""

    def __init__(self, cfg: Hyperparameters, layer: int):
        super().__init__()
        self.attn, self.mlp = CausalSelfAttention(cfg), MLP(cfg)
        self.attn_scale = nn.Parameter(torch.ones(cfg.model_dim))
        self.mlp_scale = nn.Parameter(torch.ones(cfg.model_dim))
        self.resid_mix = nn.Parameter(torch.stack((torch.ones(cfg.model_dim), torch.zeros(cfg.model_dim))))
        self.parallel = layer >= cfg.num_layers - cfg.parallel_layers

    def forward(self, x: Tensor, x0: Tensor, rope: tuple[Tensor, Tensor]) -> Tensor:
        mix = self.resid_mix.to(x.dtype)
        x = mix[0] * x + mix[1] * x0
        h = rms_norm(x)
        attn = self.attn_scale.to(x.dtype) * self.attn(h, rope)
        if self.parallel:  # x + attn(norm(x)) + mlp(norm(x)): both read the block's input
            return x + attn + self.mlp_scale.to(x.dtype) * self.mlp(h)
        x = x + attn
        return x + self.mlp_scale.to(x.dtype) * self.mlp(rms_norm(x))

class RecurrentBlockGroup(nn.Module):
    """PRELUDE_LAYERS unique blocks, the shared ones run LOOPS times (once before LOOP_START_FRAC), CODA_LAYERS.
    U-Net skips wire the n blocks run: block i < n // 2's output, times skip_weights[i], joins block n - 1 - i's input."""

    def __init__(self, cfg: Hyperparameters):
        super().__init__()
        p, s = cfg.prelude_layers, cfg.num_layers - cfg.prelude_layers - cfg.coda_layers
        self.prelude = nn.ModuleList(Block(cfg, i) for i in range(p))
        self.shared = nn.ModuleList(Block(cfg, p + i) for i in range(s))
        self.coda = nn.ModuleList(Block(cfg, p + s + i) for i in range(cfg.coda_layers))
        self.loops = cfg.loops
        pairs = (p + cfg.loops * s + cfg.coda_layers) // 2
        self.skip_weights = nn.Parameter(torch.ones(pairs, cfg.model_dim)) if cfg.unet_skips and pairs else None

    def stored_blocks(self) -> list[Block]:
        return [*self.prelude, *self.shared, *self.coda]

    def schedule(self, loops: int) -> list[Block]:
        return [*self.prelude, *(block for _ in range(loops) for block in self.shared), *self.coda]

    def forward(self, x: Tensor, x0: Tensor, rope, loops: int, collect: tuple[int, ...] = ()) -> tuple[Tensor, list[Tensor]]:
        """(output, the outputs of the shared passes listed in `collect`, for their progressive losses)."""
        blocks = self.schedule(loops)
        n, outputs = len(blocks), []
        for i, block in enumerate(blocks):
            if self.skip_weights is not None and i >= n - n // 2:
                x = x + self.skip_weights[n - 1 - i].to(x.dtype) * outputs[n - 1 - i]
            x = block(x, x0, rope)
            outputs.append(x)
        passes = sorted({k for k in collect if k <= loops})
        return x, [outputs[len(self.prelude) + k * len(self.shared) - 1] for k in passes]

class GPT(nn.Module):
    def __init__(self, cfg: Hyperparameters):
        super().__init__()
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.embed_dim or cfg.model_dim)
        nn.init.normal_(self.tok_emb.weight, std=cfg.tied_embed_init_std)
        # Factored (EMBED_DIM > 0): a narrow table, learned projections to and from the width
        # (record: 254 against 128 columns, -0.023 BPB).
        self.embed_in = CastedLinear(cfg.embed_dim, cfg.model_dim) if cfg.embed_dim else None
        self.embed_out = CastedLinear(cfg.model_dim, cfg.embed_dim) if cfg.embed_dim else None
        self.body = RecurrentBlockGroup(cfg)
        # cos/sin of every position up to the longest window, built here once: a profile showed them rebuilt every
        # step, and built in a forward under inference mode they would become inference tensors.
        hd, longest = cfg.model_dim // cfg.num_heads, max(cfg.train_seq_len, cfg.eval_seq_len)
        inv_freq = 1.0 / cfg.rope_base ** (torch.arange(0, hd, 2).float() / hd)
        angles = torch.outer(torch.arange(longest, dtype=torch.float32), inv_freq)
        self.register_buffer("rope_cos", angles.cos()[None, None], persistent=False)
        self.register_buffer("rope_sin", angles.sin()[None, None], persistent=False)
        self.smear = nn.Parameter(torch.zeros(1 + min(GATE_DIMS, cfg.model_dim))) if cfg.smear_gate else None  # l, then w
        self.softcap = cfg.logit_softcap
        self.aux_loops, self.aux_weight = cfg.aux_loops, cfg.progressive_loss_weight

    def hidden(self, idx: Tensor, loops: int = 0, collect: tuple[int, ...] = ()) -> tuple[Tensor, list[Tensor]]:
        x = self.tok_emb(idx)
        x = x if self.embed_in is None else self.embed_in(x)
        if self.smear is not None:  # x_t + l * sigmoid(w . x_t[:12]) * x_(t-1), nothing into a BOS from before it
            prev = F.pad(x[:, :-1], (0, 0, 1, 0)) * (idx != BOS_ID)[..., None].to(x.dtype)
            w = self.smear[1:].to(x.dtype)
            x = x + self.smear[0] * torch.sigmoid(x[..., : w.numel()] @ w)[..., None] * prev
        x = rms_norm(x)
        return self.body(x, x, self.rope(idx.size(1)), loops or self.body.loops, collect)

    def rope(self, seq_len: int) -> tuple[Tensor, Tensor]:
        return self.rope_cos[:, :, :seq_len], self.rope_sin[:, :, :seq_len]

    def head(self, x: Tensor) -> Tensor:
        """Logits through the tied embedding, soft-capped."""
        x = rms_norm(x) if self.embed_out is None else self.embed_out(rms_norm(x))
        logits = F.linear(x, self.tok_emb.weight.to(x.dtype)).float()
        return self.softcap * torch.tanh(logits / self.softcap)

    def logits(self, idx: Tensor) -> Tensor:
        return self.head(self.hidden(idx)[0])

    def nll(self, idx: Tensor, targets: Tensor, offset: Tensor, count: int) -> Tensor:
        """Cross-entropy (nats) of the `count` positions of each row from `offset`, a tensor, so that one compiled
        graph serves every offset. The head runs on those positions alone: the ones evaluation scores."""
        pos = offset + torch.arange(count, device=idx.device)
        x = self.hidden(idx)[0].index_select(1, pos)
        return cross_entropy(self.head(x), targets.index_select(1, pos), reduction="none").view(idx.size(0), count)

    def forward(self, idx: Tensor, targets: Tensor, loops: int = 0) -> tuple[Tensor, Tensor]:
        """(training objective, mean cross-entropy) with `loops` passes of the shared blocks (0: LOOPS). With all
        passes on, the objective adds the progressive losses of the listed loops; `train_loss` reports the second."""
        loops = loops or self.body.loops
        x, aux = self.hidden(idx, loops, self.aux_loops if loops == self.body.loops else ())
        loss = cross_entropy(self.head(x), targets)
        return loss + sum(self.aux_weight * cross_entropy(self.head(h), targets) for h in aux), loss

def cross_entropy(logits: Tensor, targets: Tensor, reduction: str = "mean") -> Tensor:
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), reduction=reduction)

def set_qat(model: nn.Module, on: bool):
    for m in model.modules():
        if isinstance(m, BitLinear):
            m.qat.fill_(1.0 if on else 0.0)

def count_params(model: GPT, cfg: Hyperparameters) -> tuple[int, int]:
    """(stored, effective): effective counts each shared block once per loop."""
    stored = sum(p.numel() for p in model.parameters())
    return stored, stored + (cfg.loops - 1) * sum(p.numel() for p in model.body.shared.parameters())


# ---- Optimizers: Muon for block matrices, Adam for the rest -----------------

NS_COEFFS = (3.4445, -4.7750, 2.0315)
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}

def compile_fn(fn, cfg: Hyperparameters):
    """COMPILE=1: static shapes (each graph made before the timers), fullgraph: a graph break errs, never slows silently."""
    return torch.compile(fn, dynamic=False, fullgraph=True, backend=cfg.compile_backend) if cfg.compile else fn

def newton_schulz(g: Tensor, steps: int, dtype: torch.dtype, eps: float = 1e-7) -> Tensor:
    """Approximately orthogonalizes g, in `dtype`. Eager: compiling saves 3 s of a run for 48 s of compile (plan.py)."""
    a, b, c = NS_COEFFS
    x = g.to(dtype)
    x = x / (x.norm() + eps)
    tall = g.size(0) > g.size(1)
    x = x.T if tall else x
    for _ in range(steps):
        m = x @ x.T
        x = a * x + (b * m + c * m @ m) @ x
    return (x.T if tall else x).to(g.dtype)

class Muon(torch.optim.Optimizer):
    """Nesterov momentum, then Newton-Schulz per matrix (per `row_splits` block); ranks split the matrices, one all-reduce."""

    def __init__(self, params: list[nn.Parameter], cfg: Hyperparameters, ctx: Context, row_splits: dict):
        super().__init__(params, dict(lr=cfg.matrix_lr, base_lr=cfg.matrix_lr, momentum=cfg.muon_momentum,
                                      backend_steps=cfg.muon_backend_steps))
        self.ctx, self.row_norm, self.row_splits, self.dtype = ctx, cfg.muon_row_norm, row_splits, DTYPES[cfg.muon_dtype]
        # Each matrix to the rank with the least work so far, largest first (by index, the fused q/k/v of every
        # block would land on the same ranks): every rank holds its own matrices' momentum.
        load, self.owner = [0] * ctx.world, {}
        for p in sorted(params, key=lambda p: -p.numel()):
            self.owner[p] = load.index(min(load))
            load[self.owner[p]] += p.numel()

    def update(self, g: Tensor, steps: int, split) -> Tensor:
        if self.row_norm:  # NeoMuon: rows at equal RMS, so no row's gradient scale dominates the orthogonalization
            g = rms_norm(g)
        parts = [newton_schulz(part, steps, self.dtype) * max(1, part.size(0) / part.size(1)) ** 0.5
                 for part in g.split(split)]
        return torch.cat(parts).flatten()

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            params = group["params"]
            flat = torch.zeros(sum(p.numel() for p in params), device=params[0].device, dtype=self.dtype)
            updates = flat.split([p.numel() for p in params])
            for p, u in zip(params, updates):
                if self.owner[p] == self.ctx.rank and p.grad is not None:
                    buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(p.grad))
                    buf.mul_(group["momentum"]).add_(p.grad)
                    g = p.grad.add(buf, alpha=group["momentum"])
                    u.copy_(self.update(g, group["backend_steps"], self.row_splits.get(p, [p.size(0)])))
            self.ctx.all_reduce(flat)
            for p, u in zip(params, updates):
                p.add_(u.view_as(p).to(p.dtype), alpha=-group["lr"])

def param_groups(model: GPT) -> dict[str, list[nn.Parameter]]:
    """Muon: every linear's matrix, the embedding's projections too (record: +0.055 BPB); Adam: the embedding, the rest."""
    matrices = [m.weight for m in model.modules() if isinstance(m, CastedLinear)]
    taken = {id(p) for p in matrices + [model.tok_emb.weight]}
    rest = [p for p in model.parameters() if id(p) not in taken]
    return {"muon": matrices, "embed": [model.tok_emb.weight], "scalar": rest}

def row_splits(model: GPT) -> dict[Tensor, tuple[int, ...]]:
    """Row blocks that Muon orthogonalizes separately: the fused q, k and v."""
    return {m.c_qkv.weight: m.split for m in model.modules() if isinstance(m, CausalSelfAttention)}

def build_optimizers(model: GPT, cfg: Hyperparameters, ctx: Context) -> list[torch.optim.Optimizer]:
    groups = param_groups(model)
    adam_groups = [dict(params=groups["embed"], lr=cfg.tied_embed_lr, base_lr=cfg.tied_embed_lr),
                   dict(params=groups["scalar"], lr=cfg.scalar_lr, base_lr=cfg.scalar_lr)]
    adam = torch.optim.AdamW(adam_groups, betas=(cfg.beta1, cfg.beta2), eps=cfg.adam_eps, weight_decay=0.0, fused=cfg.fused_adam)
    return [adam, Muon(groups["muon"], cfg, ctx, row_splits(model))]


# ---- Training ---------------------------------------------------------------

def progress(step: int, elapsed_ms: float, cfg: Hyperparameters) -> float:
    """How far training is, the larger of elapsed / MAX_WALLCLOCK_SECONDS and step / ITERATIONS: every schedule's clock."""
    clock = elapsed_ms / (1000 * cfg.max_wallclock_seconds) if cfg.max_wallclock_seconds > 0 else 0.0
    return max(clock, step / cfg.iterations)

def lr_multiplier(step: int, elapsed_ms: float, cfg: Hyperparameters) -> float:
    """Linear warm-up over WARMUP_STEPS, then linear down over the last WARMDOWN_FRAC of `progress` to WARMDOWN_FLOOR."""
    warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
    done = progress(step, elapsed_ms, cfg)
    down = (1 - done) / cfg.warmdown_frac if cfg.warmdown_frac else float(done < 1)
    return max(0.0, min(warm, max(down, cfg.warmdown_floor), 1.0))

def switch_states(done: float, cfg: Hyperparameters) -> tuple[bool, int]:
    """The late switches at training progress `done`: (ternary forward on, passes of the shared blocks)."""
    return bool(cfg.ternary_kinds) and done >= cfg.qat_start_frac, cfg.loops if done >= cfg.loop_start_frac else 1

def grad_accum_steps(cfg: Hyperparameters, ctx: Context) -> int:
    accum = cfg.grad_accum_steps or (max(1, 8 // ctx.world) if ctx.device.type == "cuda" else 1)
    if cfg.train_batch_tokens % (ctx.world * accum * cfg.train_seq_len):
        raise ConfigError(
            f"TRAIN_BATCH_TOKENS={cfg.train_batch_tokens} must split into whole TRAIN_SEQ_LEN={cfg.train_seq_len} sequences over "
            f"{ctx.world} ranks x {accum} accumulation steps; use a multiple of {ctx.world * accum * cfg.train_seq_len}")
    return accum

GRAD_BUCKET = 8  # parameters per gradient all-reduce (tens of MB at the competition shape)

def all_reduce_grads(params: list[nn.Parameter], ctx: Context, dtype: torch.dtype):
    """Averages gradients in `dtype`, in buckets each sent once packed (a compiled backward yields all at its end)."""
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    sent = []
    for bucket in (params[i : i + GRAD_BUCKET] for i in range(0, len(params), GRAD_BUCKET)):
        flat = torch.cat([p.grad.flatten() for p in bucket]).div_(ctx.world).to(dtype)
        sent.append((bucket, flat, dist.all_reduce(flat, async_op=True)))
    for bucket, flat, work in sent:
        work.wait()
        for p, g in zip(bucket, flat.split([p.numel() for p in bucket])):
            p.grad.copy_(g.view_as(p.grad))

def autocast(cfg: Hyperparameters, ctx: Context):
    return torch.autocast(ctx.device.type, dtype=torch.bfloat16, enabled=cfg.autocast == "bf16")

def scorer(model: GPT, cfg: Hyperparameters, ctx: Context, compiled: bool):
    """model.nll under autocast, compiled when `compiled`; int offsets map to cached device tensors (no sync per call)."""
    nll, offsets = compile_fn(model.nll, cfg) if compiled else model.nll, {}

    def score(idx: Tensor, targets: Tensor, offset: int, count: int) -> Tensor:
        if offset not in offsets:
            offsets[offset] = torch.tensor(offset, device=ctx.device)
        with autocast(cfg, ctx):
            return nll(idx, targets, offsets[offset], count)
    return score

def train(model: GPT, cfg: Hyperparameters, ctx: Context, data: EvalData, log: Logger):
    loader = DistributedTokenLoader(shard_files(cfg, "train"), cfg, ctx)
    optimizers = build_optimizers(model, cfg, ctx)
    accum = grad_accum_steps(cfg, ctx)
    step_model = compile_fn(model, cfg)

    def train_step(step: int, elapsed_ms: float, loops: int) -> Tensor:
        total = torch.zeros((), device=ctx.device)
        for _ in range(accum):
            x, y = loader.next_batch(cfg.train_batch_tokens // accum)
            with autocast(cfg, ctx):
                objective, loss = step_model(x, y, loops)
            (objective / accum).backward()
            total += loss.detach() / accum
        if ctx.world > 1:
            all_reduce_grads([p for p in model.parameters() if p.requires_grad], ctx, DTYPES[cfg.grad_reduce_dtype])
        if cfg.grad_clip_norm:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip_norm)
        mult = lr_multiplier(step, elapsed_ms, cfg)
        frac = min(step / cfg.muon_momentum_warmup_steps, 1.0) if cfg.muon_momentum_warmup_steps else 1.0
        for opt in optimizers:
            for g in opt.param_groups:
                g["lr"] = g["base_lr"] * mult
                if isinstance(opt, Muon):
                    g["momentum"] = (1 - frac) * cfg.muon_momentum_warmup_start + frac * cfg.muon_momentum
            opt.step()
        model.zero_grad(set_to_none=True)
        return total

    if cfg.compile_warmup_steps:
        # Untimed steps through every combination of the late switches compile each graph, then the state starts over.
        warm_t0, saved = time.perf_counter(), {k: v.clone() for k, v in model.state_dict().items()}
        saved_opt = [opt.state_dict() for opt in optimizers]
        combos = list(itertools.product((False, True) if cfg.ternary_kinds else (False,), sorted({1, cfg.loops})))
        for i in range(cfg.compile_warmup_steps):
            set_qat(model, combos[i % len(combos)][0])
            train_step(i, 0.0, combos[i % len(combos)][1])
        model.load_state_dict(saved)
        for opt, state in zip(optimizers, saved_opt):
            opt.load_state_dict(state)
        loader = DistributedTokenLoader(loader.files, cfg, ctx)
        log(f"compile_warmup steps:{cfg.compile_warmup_steps} time:{1000 * (time.perf_counter() - warm_t0):.0f}ms")

    train_ms, step, loss, bad = 0.0, 0, torch.zeros((), device=ctx.device), torch.zeros((), device=ctx.device)
    (qat, loops), clock = (False, 1), AgreedClock(cfg, ctx)
    set_qat(model, qat)
    sync(ctx)
    t0 = time.perf_counter()
    while True:
        elapsed, diverged = clock.read(step, train_ms + 1000 * (time.perf_counter() - t0), bad)
        last = step == cfg.iterations or (clock.cap_ms > 0 and elapsed >= clock.cap_ms)
        if diverged:
            log(f"abort reason:nonfinite_loss step:{step}")
            raise DivergedError(f"the training loss is not finite at step {step}: lower the learning rates "
                                "(MATRIX_LR, SCALAR_LR, TIED_EMBED_LR) or set GRAD_CLIP_NORM; no artifact was written")
        if (cfg.val_loss_every and step % cfg.val_loss_every == 0 and step > 0) or (last and cfg.val_loss_every):
            sync(ctx)
            train_ms += 1000 * (time.perf_counter() - t0)
            nll = score_stream(scorer(model, cfg, ctx, compiled=False), data, cfg.train_seq_len, cfg.train_seq_len, cfg, ctx)
            val_loss, val_bpb = eval_stats(nll, data)
            log(f"step:{step}/{cfg.iterations} val_loss:{val_loss:.4f} val_bpb:{val_bpb:.4f} "
                f"train_time:{train_ms:.0f}ms step_avg:{train_ms / max(step, 1):.2f}ms")
            t0 = time.perf_counter()  # eval_stats waited for the device (.item()): nothing is still running
        if last:
            break
        now_qat, now_loops = switch_states(progress(step, elapsed, cfg), cfg)
        if now_qat > qat:
            log(f"qat_on step:{step}")
            set_qat(model, True)
        if now_loops > loops:
            log(f"loops_on step:{step} passes:{now_loops}")
        qat, loops = now_qat, now_loops
        loss = train_step(step, elapsed, loops)
        bad = torch.maximum(bad, (~torch.isfinite(loss)).float())
        step += 1
        if step % cfg.train_log_every == 0 or step <= 5:
            mean = ctx.all_reduce(loss.clone()) / ctx.world
            now = train_ms + 1000 * (time.perf_counter() - t0)
            log(f"step:{step}/{cfg.iterations} train_loss:{mean.item():.4f} train_time:{now:.0f}ms step_avg:{now / step:.2f}ms")
    sync(ctx)
    train_ms += 1000 * (time.perf_counter() - t0)
    if step < cfg.iterations:
        log(f"stopping_early: wallclock_cap train_time:{train_ms:.0f}ms step:{step}/{cfg.iterations}")
    if ctx.device.type == "cuda":
        log(f"peak memory allocated:{torch.cuda.max_memory_allocated() // 2**20}MiB "
            f"reserved:{torch.cuda.max_memory_reserved() // 2**20}MiB")

class DivergedError(RunError):
    """A non-finite training loss: the run stops on every rank, writes no artifact and exits with 3."""
    status = 3

class AgreedClock:
    """The slowest rank's clock and any non-finite loss, read in one collective every SYNC_EVERY steps (the host never
    drains the device between); every rank extrapolates the same clock, and stops on a read (each step near the cap)."""

    def __init__(self, cfg: Hyperparameters, ctx: Context):
        self.cfg, self.ctx, self.cap_ms = cfg, ctx, 1000 * cfg.max_wallclock_seconds
        self.step, self.elapsed, self.step_ms, self.every = 0, 0.0, 0.0, cfg.sync_every

    def read(self, step: int, elapsed_ms: float, bad: Tensor) -> tuple[float, bool]:
        """(agreed elapsed ms, diverged) at `step`; `bad` > 0 where a local loss was non-finite."""
        estimate = self.elapsed + (step - self.step) * self.step_ms
        due = not step % self.every or not self.step_ms or step == self.cfg.iterations  # no step time yet: read
        if not due and not (self.cap_ms and estimate >= self.cap_ms):
            return estimate, False
        state = torch.stack((torch.tensor(elapsed_ms, dtype=torch.float64, device=self.ctx.device), bad.double()))
        elapsed, worst = self.ctx.all_reduce(state, dist.ReduceOp.MAX).tolist()
        if step > self.step:
            self.step_ms = (elapsed - self.elapsed) / (step - self.step)
        self.step, self.elapsed = step, elapsed
        if self.cap_ms and elapsed + 2 * (self.cfg.sync_every + 1) * self.step_ms >= self.cap_ms:
            self.every = 1
        return elapsed, worst > 0

def sync(ctx: Context):
    if ctx.device.type == "cuda":
        torch.cuda.synchronize()


# ---- Export: a pickle-free artifact -----------------------------------------
# File = MAGIC, version (u32), crc32 of the rest (u32), zstd(level 22) of: u32 manifest length, manifest JSON
# {config, tensors: [{name, shape, encoding, meta, offset, length}]}, payload. Loading parses JSON and numbers
# only: it never executes code. Each encoding is a pack/unpack/size row of ENCODINGS; packing is pure.

ARTIFACT_MAGIC, ARTIFACT_VERSION = b"PGOLFART", 6  # files of another version are refused
ZSTD_LEVEL = 22

class ArtifactError(RunError):
    """An artifact that is corrupt, truncated, from another tool, or over the byte limit."""

INT_CLIPS = (1.0, 0.95, 0.9, 0.85, 0.8, 0.7)  # fractions of a row's absolute maximum tried as its clip

def quantize_int_rows(w: Tensor, bits: int) -> tuple[Tensor, Tensor]:
    """Symmetric per-row integers, fp16 scales, each row clipped at the INT_CLIPS fraction that rounds it nearest."""
    qmax = 2 ** (bits - 1) - 1
    w2 = w.detach().float().reshape(w.shape[0], -1)
    clips = torch.tensor(INT_CLIPS)[:, None, None]
    scale = (w2.abs().amax(1, keepdim=True) * clips / qmax).clamp_min(TERNARY_MIN_SCALE).half().float()
    q = (w2 / scale).round().clamp(-qmax, qmax)
    best, rows = (q * scale - w2).square().sum(-1).argmin(0), torch.arange(w2.size(0))
    return q[best, rows], scale[best, rows]

def pack_bits(values: np.ndarray, bits: int) -> bytes:
    """Unsigned values < 2^bits, packed little-endian bit by bit (4 int6 values in 3 bytes)."""
    b = np.unpackbits(values.astype(np.uint8)[:, None], axis=1, bitorder="little")[:, :bits]
    return np.packbits(b.reshape(-1), bitorder="little").tobytes()

def unpack_bits(buf: bytes, n: int, bits: int) -> np.ndarray:
    b = np.unpackbits(np.frombuffer(buf, np.uint8), bitorder="little")[: n * bits].reshape(n, bits)
    return (b.astype(np.int64) << np.arange(bits)).sum(1)

def pack_trits(trits: np.ndarray) -> bytes:
    """Five trits per byte, base 3 (3^5 = 243 <= 256); the tail is padded with zeros."""
    d = np.zeros(-(-len(trits) // 5) * 5, np.uint8)
    d[: len(trits)] = trits.astype(np.int64) + 1
    return (d.reshape(-1, 5).astype(np.int64) @ (3 ** np.arange(5))).astype(np.uint8).tobytes()

def unpack_trits(buf: bytes, n: int) -> np.ndarray:
    v = np.frombuffer(buf, np.uint8).astype(np.int64)[:, None] // (3 ** np.arange(5)) % 3
    return v.reshape(-1)[:n] - 1

def pack_float(dtype):
    return lambda t, meta: t.detach().to(dtype).cpu().contiguous().view(torch.uint8).numpy().tobytes()

def unpack_float(dtype):
    return lambda buf, shape, meta: torch.frombuffer(bytearray(buf), dtype=dtype).float().reshape(shape)

def pack_int(t: Tensor, meta: dict) -> bytes:
    q, scale = quantize_int_rows(t, meta["bits"])
    offset = 2 ** (meta["bits"] - 1)
    return scale.half().numpy().tobytes() + pack_bits((q.flatten().long() + offset).numpy(), meta["bits"])

def unpack_int(buf: bytes, shape, meta: dict) -> Tensor:
    rows, n = shape[0], math.prod(shape)
    scale = torch.frombuffer(bytearray(buf[: 2 * rows]), dtype=torch.float16).float()[:, None]
    q = torch.from_numpy(unpack_bits(buf[2 * rows :], n, meta["bits"]) - 2 ** (meta["bits"] - 1)).float()
    return (q.view(rows, -1) * scale).reshape(shape)

def pack_ternary(t: Tensor, meta: dict) -> bytes:
    """fp16 scales, then the trits base 3 (five a byte: 1.6 bits a weight before zstd)."""
    trits, s = ternary_quantize(t.detach().float().cpu(), meta["group"], meta["scale"])
    return s.half().numpy().tobytes() + pack_trits(trits.flatten().numpy())

def unpack_ternary(buf: bytes, shape, meta: dict) -> Tensor:
    rows, cols = shape
    groups = cols // (meta["group"] or cols)
    s = torch.frombuffer(bytearray(buf[: 2 * rows * groups]), dtype=torch.float16).float().view(rows, groups, 1)
    trits = unpack_trits(buf[2 * rows * groups :], rows * cols)
    return (torch.from_numpy(trits).float().view(rows, groups, -1) * s).reshape(shape)

def ternary_bytes(shape, m: dict) -> int:
    return 2 * shape[0] * (shape[1] // (m["group"] or shape[1])) + -(-math.prod(shape) // 5)

class Encoding(NamedTuple):
    pack: callable  # (tensor, meta) -> bytes
    unpack: callable  # (bytes, shape, meta) -> tensor
    size: callable  # (shape, meta) -> packed bytes

ENCODINGS = {
    "fp32": Encoding(pack_float(torch.float32), unpack_float(torch.float32), lambda shape, m: 4 * math.prod(shape)),
    "fp16": Encoding(pack_float(torch.float16), unpack_float(torch.float16), lambda shape, m: 2 * math.prod(shape)),
    "int": Encoding(pack_int, unpack_int, lambda shape, m: 2 * shape[0] + -(-math.prod(shape) * m["bits"] // 8)),
    "ternary": Encoding(pack_ternary, unpack_ternary, ternary_bytes),
}

def tensor_plan(model: GPT, bits: dict[str, int]) -> list[tuple[str, Tensor, str, dict, str]]:
    """(name, tensor, encoding, meta, group) of each state tensor at `bits`: groups embed, int (other matrices), side."""
    kinds = {}
    for name, m in model.named_modules():
        if isinstance(m, BitLinear):
            kinds[name + ".weight"] = ("ternary", {"group": m.group, "scale": m.scale_kind}, "ternary")
        elif isinstance(m, CastedLinear):
            group = "embed" if name.startswith("embed_") else "int"
            kinds[name + ".weight"] = ("int", {"bits": bits[group]}, group)
    kinds["tok_emb.weight"] = ("int", {"bits": bits["embed"]}, "embed")
    side = (f"fp{bits['side']}", {}, "side")
    return [(name, t, *kinds.get(name, side)) for name, t in model.state_dict().items()]

def bit_ladders(cfg: Hyperparameters) -> dict[str, list[int]]:
    """Each group's bits, most precise first: EMBED_BITS and INT_BITS (ceilings) down to 5 and 4; side fp32, then fp16."""
    return {"embed": list(range(cfg.embed_bits, min(cfg.embed_bits, 5) - 1, -1)),
            "int": list(range(cfg.int_bits, min(cfg.int_bits, 4) - 1, -1)), "side": [32, 16]}

class Packed(NamedTuple):
    blob: bytes  # the artifact file
    tensors: list[dict]  # the manifest's entries: name, shape, encoding, meta, offset, length
    payload: bytes  # the packed tensors, before compression

    def state(self) -> dict[str, Tensor]:
        """The weights as the artifact stores them, dequantized."""
        return {e["name"]: ENCODINGS[e["encoding"]].unpack(self.payload[e["offset"] : e["offset"] + e["length"]],
                                                           tuple(e["shape"]), e["meta"]) for e in self.tensors}

def encode_artifact(model: GPT, cfg: Hyperparameters, bits: dict[str, int], cache: dict | None = None) -> Packed:
    """The artifact at the groups' `bits`; `cache` keeps packed tensors between attempts at other bits."""
    tensors, payload, cache = [], bytearray(), {} if cache is None else cache
    for name, t, enc, meta, _ in tensor_plan(model, bits):
        key = (name, enc, json.dumps(meta))
        if key not in cache:
            cache[key] = ENCODINGS[enc].pack(t.detach().cpu(), meta)
        blob = cache[key]
        tensors.append({"name": name, "shape": list(t.shape), "encoding": enc, "meta": meta,
                        "offset": len(payload), "length": len(blob)})
        payload += blob
    manifest = json.dumps({"config": cfg.model_config(), "tensors": tensors}).encode()
    body = struct.pack("<I", len(manifest)) + manifest + bytes(payload)
    compressed = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(body)
    blob = ARTIFACT_MAGIC + struct.pack("<II", ARTIFACT_VERSION, zlib.crc32(compressed)) + compressed
    return Packed(blob, tensors, bytes(payload))

def decode_artifact(blob: bytes, source: str = "artifact") -> tuple[dict, dict[str, Tensor]]:
    """(model config, state dict). Every field is checked; any inconsistency raises ArtifactError."""
    head = len(ARTIFACT_MAGIC) + 8
    if len(blob) < head or blob[: len(ARTIFACT_MAGIC)] != ARTIFACT_MAGIC:
        raise ArtifactError(f"{source}: not a train_gpt.py artifact (bad magic); pass a file written by this script")
    version, crc = struct.unpack("<II", blob[len(ARTIFACT_MAGIC) : head])
    if version != ARTIFACT_VERSION:
        raise ArtifactError(f"{source}: artifact format version {version}, this script reads version {ARTIFACT_VERSION}; "
                            "re-export it with this script")
    if zlib.crc32(blob[head:]) != crc:
        raise ArtifactError(f"{source}: checksum mismatch, the file is truncated or corrupted; re-export or re-copy it")
    try:
        body = zstandard.ZstdDecompressor().decompress(blob[head:])
        (n,) = struct.unpack("<I", body[:4])
        manifest = json.loads(body[4 : 4 + n])
        config, entries, payload = manifest["config"], manifest["tensors"], body[4 + n :]
        state = {}
        for e in entries:
            enc, shape = ENCODINGS[e["encoding"]], tuple(e["shape"])
            if e["offset"] < 0 or e["offset"] + e["length"] > len(payload) or e["length"] != enc.size(shape, e["meta"]):
                raise ValueError(f"tensor {e['name']} has an inconsistent payload range")
            state[e["name"]] = enc.unpack(payload[e["offset"] : e["offset"] + e["length"]], shape, e["meta"])
    except (zstandard.ZstdError, struct.error, ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{source}: corrupt artifact ({exc}); re-export it") from None
    return config, state

def model_from_artifact(path: str, cfg: Hyperparameters, ctx: Context) -> tuple[GPT, Hyperparameters]:
    """The network from the artifact alone; ternary weights arrive quantized and load into plain linears."""
    if not os.path.isfile(path):
        raise ArtifactError(f"EVAL_ARTIFACT={path}: no such file")
    config, state = decode_artifact(Path(path).read_bytes(), path)
    cfg = dataclasses.replace(cfg, **config).validated()  # evaluation settings checked against the artifact's shape
    model = GPT(dataclasses.replace(cfg, ternary_layers="none"))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ArtifactError(f"{path}: tensors do not match the recorded configuration ({exc})") from None
    return model.to(ctx.device), cfg

def code_bytes() -> int:
    """Bytes of the file that runs: under tools/make_record.py's self-extracting wrapper, the wrapper."""
    return len(Path(__file__).read_bytes())

def estimate_artifact_bytes(cfg: Hyperparameters, bits: dict[str, int] | None = None) -> int:
    """Packed size before zstd plus zstd's worst-case framing: an upper bound on the file (at the ceilings by default)."""
    with torch.device("meta"):
        model = GPT(cfg)
    plan = tensor_plan(model, bits or {g: ladder[0] for g, ladder in bit_ladders(cfg).items()})
    body = sum(ENCODINGS[enc].size(tuple(t.shape), meta) + 160 for _, t, enc, meta, _ in plan)
    return code_bytes() + len(ARTIFACT_MAGIC) + 8 + 1024 + body + body // 131072 * 3 + 64

def check_budget(cfg: Hyperparameters, log: Logger):
    """Training starts only when export is sure to fit: every group at its fewest bits, by the upper bound."""
    estimate = estimate_artifact_bytes(cfg)
    smallest = estimate_artifact_bytes(cfg, {g: ladder[-1] for g, ladder in bit_ladders(cfg).items()})
    log(f"budget_estimate bytes:{estimate} smallest:{smallest} limit:{cfg.artifact_limit}")
    if smallest > cfg.artifact_limit:
        raise ConfigError(f"estimated artifact {smallest} bytes, with the fewest bits export may use, is over "
                          f"ARTIFACT_LIMIT={cfg.artifact_limit} by {smallest - cfg.artifact_limit} bytes: lower MODEL_DIM, "
                          "MLP_MULT, layers or EMBED_DIM; `python tools/plan.py` prints the bytes of any setting")

def step_down_cost(model: GPT, bits: dict[str, int], group: str, lower: int) -> float:
    """Squared error as stored, relative to each tensor's energy, added per byte saved if `group` steps down to `lower`."""
    def error(t: Tensor, enc: str, meta: dict) -> float:
        w = t.detach().float().cpu()
        stored = torch.mul(*quantize_int_rows(w, meta["bits"])).view_as(w) if enc == "int" else w.to(DTYPES[enc]).float()
        return float((stored - w).square().sum() / w.square().sum().clamp_min(1e-30))

    added, saved, lowered = 0.0, 0, tensor_plan(model, {**bits, group: lower})
    for (_, t, enc, meta, g), (_, _, low_enc, low_meta, _) in zip(tensor_plan(model, bits), lowered):
        if g == group:
            added += error(t, low_enc, low_meta) - error(t, enc, meta)
            saved += ENCODINGS[enc].size(tuple(t.shape), meta) - ENCODINGS[low_enc].size(tuple(t.shape), low_meta)
    return added / max(saved, 1)

def fit_export(model: GPT, cfg: Hyperparameters, log: Logger) -> tuple[Packed, dict[str, int]]:
    """The most precise artifact that fits ARTIFACT_LIMIT by its real size (the upper-bound estimate runs ~3% high at the
    full shape, a bit of the embedding's precision). From the ceilings, while over, the group whose next step costs the
    least error per byte saved steps down; then any group that still fits one up steps up."""
    ladders, cache, tried, n_code = bit_ladders(cfg), {}, {}, code_bytes()
    groups = {g for *_, g in tensor_plan(model, {g: ladder[0] for g, ladder in ladders.items()})}
    level = {g: 0 for g in ladders}

    def attempt(level: dict[str, int]) -> Packed | None:
        key = tuple(level.values())  # each setting is packed and compressed once
        if key not in tried:
            bits = {g: ladders[g][i] for g, i in level.items()}
            packed = encode_artifact(model, cfg, bits, cache)
            total = n_code + len(packed.blob)
            if total > cfg.artifact_limit:
                log(f"shrink over_limit bytes_total:{total} limit:{cfg.artifact_limit} tried "
                    + " ".join(f"{g}_bits:{b}" for g, b in bits.items()))
            tried[key] = packed if total <= cfg.artifact_limit else None
        return tried[key]

    packed = attempt(level)
    while packed is None:
        down = [g for g in ladders if g in groups and level[g] + 1 < len(ladders[g])]
        if not down:
            raise ArtifactError(f"no export fits ARTIFACT_LIMIT={cfg.artifact_limit}; reduce MODEL_DIM or layers")
        bits = {g: ladders[g][i] for g, i in level.items()}
        group = min(down, key=lambda g: step_down_cost(model, bits, g, ladders[g][level[g] + 1]))
        level[group] += 1
        packed = attempt(level)
    while up := next((g for g in ladders if level[g] > 0 and attempt({**level, g: level[g] - 1})), None):
        level[up] -= 1
        packed = attempt(level)
    bits = {g: ladders[g][i] for g, i in level.items()}
    if any(level.values()):
        log("shrink applied " + " ".join(f"{g}_bits:{b}" for g, b in bits.items()) + f" bytes_total:{n_code + len(packed.blob)}")
    return packed, bits

def export_artifact(model: GPT, cfg: Hyperparameters, ctx: Context, path: str, log: Logger) -> str:
    """Rank 0 writes the most precise artifact that fits (never one over the limit), read back and checked; all load it."""
    error, n_code = None, code_bytes()
    if ctx.rank == 0:
        try:
            packed, bits = fit_export(model, cfg, log)
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(path + ".tmp")
            tmp.write_bytes(packed.blob)
            _, state = decode_artifact(tmp.read_bytes(), str(tmp))
            if any(not torch.equal(state[name], t) for name, t in packed.state().items()):
                raise ArtifactError(f"{tmp}: read-back does not match the exported weights")
            os.replace(tmp, path)
            ternary = [e for e in packed.tensors if e["encoding"] == "ternary"]
            params = sum(math.prod(e["shape"]) for e in ternary)
            per_weight = 8 * sum(e["length"] for e in ternary) / max(params, 1)
            log(f"artifact path:{path} bytes_model:{len(packed.blob)} bytes_code:{n_code} "
                f"bytes_total:{n_code + len(packed.blob)} ternary_params:{params} ternary_bits_per_weight:{per_weight:.4f} "
                + " ".join(f"{g}_bits:{b}" for g, b in bits.items()))
        except Exception as exc:  # shared below, so no rank waits forever on a failed rank 0
            error = exc
    if ctx.any(error is not None):
        raise error if error is not None else ArtifactError("export failed on rank 0; its log says why")
    return path


# ---- Evaluation: sliding windows and score-first test-time training ---------
# Target t is token t + 1 predicted from tokens 0..t. A window (start, a, b) feeds tokens start..b-1 and scores
# targets a..b-1, each once. TTT trains only on targets already scored: no score depends on its own or later tokens.

def plan_windows(a0: int, a1: int, seq_len: int, stride: int) -> Tensor:
    """Windows (start, a, b) scoring targets [a0, a1): the first a full window, the others `stride` new targets each."""
    first = min(a1, seq_len if a0 == 0 else a0 + stride)
    ends = torch.cat((torch.arange(first, a1, stride), torch.tensor([a1])))
    a = torch.cat((torch.tensor([a0]), ends[:-1]))
    return torch.stack(((ends - seq_len).clamp(min=0), a, ends), 1)

def gather_sequences(tokens: Tensor, starts, length: int) -> Tensor:
    """Rows tokens[s : s + length + 1]; past the stream's end (after every scored target) the last token."""
    starts = torch.as_tensor(starts, device=tokens.device)
    return tokens[(starts[:, None] + torch.arange(length + 1, device=tokens.device)).clamp(max=tokens.numel() - 1)]

@torch.no_grad()
def score_windows(score, tokens: Tensor, windows: Tensor, seq_len: int, stride: int, batch_seqs: int, ctx: Context, out: Tensor):
    """Adds the NLL of each window's targets (its last positions) into `out`, no host read; rank r takes every world-th
    window. The head runs on the last `count`: a whole window for the stream's first, `stride` after (two graphs)."""
    mine = windows[ctx.rank :: ctx.world]
    length = min(seq_len, tokens.numel() - 1)
    for i in range(0, len(mine), batch_seqs):
        rows = mine[i : i + batch_seqs]
        count = length if int((rows[:, 2] - rows[:, 1]).max()) > stride else min(stride, length)
        start, a, b = rows.to(tokens.device).unbind(1)
        padded = torch.cat((start, start[-1:].expand(batch_seqs - len(start))))  # repeat the last window
        seqs = gather_sequences(tokens, padded, length)
        nll = score(seqs[:, :-1], seqs[:, 1:], length - count, count)[: len(start)]
        target = b[:, None] - count + torch.arange(count, device=tokens.device)
        out.index_add_(0, target.clamp(min=0).flatten(), torch.where(target >= a[:, None], nll, 0.0).flatten())

def eval_stats(nll: Tensor, data: EvalData) -> tuple[float, float]:
    total = nll.double().sum().item()  # nats; bits per byte divides by ln 2 and the targets' bytes
    return total / nll.numel(), total / math.log(2.0) / int(data.target_bytes.sum().item())

def eval_batch(cfg: Hyperparameters, ctx: Context, seq_len: int) -> int:
    return max(1, cfg.val_batch_size // (ctx.world * seq_len))

def score_stream(score, data: EvalData, seq_len: int, stride: int, cfg: Hyperparameters, ctx: Context) -> Tensor:
    """NLL of every validation target; stride == seq_len is the non-overlapping evaluation."""
    nll = torch.zeros(data.tokens.numel() - 1, device=ctx.device)
    windows = plan_windows(0, nll.numel(), seq_len, stride)
    score_windows(score, data.tokens, windows, seq_len, stride, eval_batch(cfg, ctx, seq_len), ctx, nll)
    return ctx.all_reduce(nll)

def doc_batches(tokens: Tensor, n: int, size: int) -> list[Tensor]:
    """Documents (first target, end), longest first, in batches of `size` (padded): batch-mates need as many chunks."""
    starts = sorted({0, *torch.nonzero(tokens[:n] == BOS_ID).flatten().tolist()})
    docs = sorted(zip(starts, starts[1:] + [n]), key=lambda d: (d[0] - d[1], d[0]))
    docs += [(0, 0)] * (-len(docs) % size)
    return list(torch.tensor(docs, dtype=torch.long, device=tokens.device).split(size))

def attach_lora(model: GPT, cfg: Hyperparameters, rows: int) -> list[Tensor]:
    """Fresh fp32 adapters, a row per document, on every block linear and the head's projection: A the same for every
    document, B zero (no change at start). None carries over: a warm A would let later documents reach a score."""
    g, device, adapters = torch.Generator().manual_seed(cfg.seed), model.tok_emb.weight.device, []
    linears = [m for block in model.body.stored_blocks() for m in block.modules() if isinstance(m, CastedLinear)]
    for m in linears + ([model.embed_out] if model.embed_out is not None else []):
        a = (torch.rand(cfg.ttt_lora_rank, m.in_features, generator=g) * 2 - 1) / math.sqrt(m.in_features)
        b = torch.zeros(rows, m.out_features, cfg.ttt_lora_rank, device=device)
        m.lora = (a.repeat(rows, 1, 1).to(device).requires_grad_(), b.requires_grad_())
        adapters += m.lora
    model.requires_grad_(False)
    return adapters

def detach_lora(model: GPT):
    """Undoes attach_lora: no adapters, every weight trainable again (the state sliding windows compiled in)."""
    for m in model.modules():
        if isinstance(m, CastedLinear):
            m.lora = None
    model.requires_grad_(True)

def ttt_widths(cfg: Hyperparameters) -> list[int]:
    """EVAL_SEQ_LEN / 4 (at least a chunk) and EVAL_SEQ_LEN: two graphs for 1.4x the tokens of chunk-exact windows."""
    return sorted({min(cfg.eval_seq_len, max(cfg.ttt_doc_chunk, cfg.eval_seq_len // 4)), cfg.eval_seq_len})

def ttt_window(j: int, cfg: Hyperparameters) -> tuple[int, int, int]:
    """(width, start, offset) of chunk j's window: the narrowest width from the BOS to the chunk's end, else ending there."""
    chunk, end = cfg.ttt_doc_chunk, (j + 1) * cfg.ttt_doc_chunk
    width = next((w for w in ttt_widths(cfg) if end <= w), cfg.eval_seq_len)
    start = max(0, end - width)
    return width, start, end - chunk - start

def eval_ttt_doc(model: GPT, score, data: EvalData, cfg: Hyperparameters, ctx: Context, deadline: float, log: Logger) -> Tensor:
    """Per document, chunk by chunk: score TTT_DOC_CHUNK targets with its own adapters, then step them on those. Windows
    start at or after the BOS; rows never mix (per-row adapters and loss): a score sees its document's past alone."""
    tokens, chunk, n_targets = data.tokens, cfg.ttt_doc_chunk, data.tokens.numel() - 1
    batches = doc_batches(tokens, n_targets, cfg.ttt_doc_batch)[ctx.rank :: ctx.world]
    # Chunk steps of each batch (its longest document): the budget projects by these, as batches shrink.
    steps = [-(-int((b[:, 1] - b[:, 0]).max()) // chunk) for b in batches]
    nll, cols = torch.zeros(n_targets, device=ctx.device), torch.arange(chunk, device=ctx.device)
    adapting, spent_s = True, 0.0
    for k, docs in enumerate(batches):
        t = time.perf_counter()
        if adapting and t + spent_s / max(sum(steps[:k]), 1) * sum(steps[k:]) > deadline:
            adapting = False
            log(f"ttt_stopped doc:{k * ctx.world * cfg.ttt_doc_batch} reason:budget")
        opt = torch.optim.AdamW(attach_lora(model, cfg, len(docs)), lr=cfg.ttt_lr, betas=(cfg.ttt_beta1, cfg.ttt_beta2),
                                weight_decay=cfg.ttt_weight_decay)
        first, end = docs.unbind(1)  # each document's first target and its end
        for j in range(steps[k]):
            width, start, offset = ttt_window(j, cfg)
            seqs = gather_sequences(tokens, first + start, width)
            target = first[:, None] + j * chunk + cols
            scored = target < end[:, None]
            ce = score(seqs[:, :-1], seqs[:, 1:], offset, chunk)  # with gradients always: one compiled graph a width
            nll.index_add_(0, target.clamp(max=n_targets - 1).flatten(), torch.where(scored, ce.detach(), 0.0).flatten())
            if adapting and j + 1 < steps[k]:  # after the chunk's scores are taken; the last teaches no later score
                opt.zero_grad(set_to_none=False)
                (torch.where(scored, ce, 0.0).sum(1) / scored.sum(1).clamp(min=1)).sum().backward()
                opt.step()
        spent_s += time.perf_counter() - t
    detach_lora(model)
    return ctx.all_reduce(nll)

def prime_eval(model: GPT, score, data: EvalData, cfg: Hyperparameters, ctx: Context):
    """Compiles every graph evaluation uses (both scoring shapes, TTT's widths with adapters) before any timed loop."""
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 8)
    length = min(cfg.eval_seq_len, data.tokens.numel() - 1)

    def run(rows: int, width: int, offset: int, count: int):
        seqs = gather_sequences(data.tokens, torch.zeros(rows, dtype=torch.long), width)
        nll = score(seqs[:, :-1], seqs[:, 1:], offset, count)
        if nll.requires_grad:
            nll.sum().backward()

    with torch.no_grad():
        for count in {length, min(cfg.eval_stride or length, length)}:
            run(eval_batch(cfg, ctx, cfg.eval_seq_len), length, length - count, count)
    if cfg.ttt == "doc":
        attach_lora(model, cfg, cfg.ttt_doc_batch)
        for width in ttt_widths(cfg):
            run(cfg.ttt_doc_batch, width, 0, cfg.ttt_doc_chunk)
    detach_lora(model)
    model.zero_grad(set_to_none=True)

def evaluate(model: GPT, data: EvalData, cfg: Hyperparameters, ctx: Context, log: Logger) -> float:
    """The configured evaluation of the reloaded artifact, phase by phase (compiling first, on its clock); the last scores."""
    model.eval()
    score = scorer(model, cfg, ctx, compiled=True)
    t0, L = time.perf_counter(), cfg.eval_seq_len
    deadline = t0 + cfg.eval_budget_seconds  # TTT stops adapting when it projects to overrun this
    if cfg.compile:
        prime_eval(model, score, data, cfg, ctx)
    sync(ctx)
    log(f"eval_compile time:{1000 * (time.perf_counter() - t0):.0f}ms")
    phases = [("final_roundtrip", lambda: score_stream(score, data, L, L, cfg, ctx), "")]
    if cfg.eval_stride:
        sliding = lambda: score_stream(score, data, L, cfg.eval_stride, cfg, ctx)  # noqa: E731
        phases.append(("final_sliding", sliding, f" stride:{cfg.eval_stride}"))
    if cfg.ttt != "off":
        phases.append(("final_ttt", lambda: eval_ttt_doc(model, score, data, cfg, ctx, deadline, log), f" mode:{cfg.ttt}"))
    for name, phase, extra in phases:
        sync(ctx)
        t = time.perf_counter()
        nll = phase()
        sync(ctx)
        val_loss, val_bpb = eval_stats(nll, data)
        log(f"{name} val_loss:{val_loss:.8f} val_bpb:{val_bpb:.8f}{extra} eval_time:{1000 * (time.perf_counter() - t):.0f}ms")
    log(f"eval_total time:{1000 * (time.perf_counter() - t0):.0f}ms budget:{1000 * cfg.eval_budget_seconds:.0f}ms")
    if cfg.eval_dump and ctx.rank == 0:
        np.save(cfg.eval_dump, nll.float().cpu().numpy())
    return val_bpb


# ---- main: named phases -----------------------------------------------------

def log_config(cfg: Hyperparameters, ctx: Context, log: Logger):
    log(f"config profile:{cfg.config_profile} reason:{cfg.profile_reason}")
    gpu = f" gpu:{torch.cuda.get_device_name(ctx.device).replace(' ', '_')}" if ctx.device.type == "cuda" else ""
    log(f"device:{ctx.device.type} world_size:{ctx.world}{gpu} torch:{torch.__version__}")
    log(f"code bytes:{code_bytes()} sha256:{hashlib.sha256(Path(__file__).read_bytes()).hexdigest()}")
    log("hyperparameters " + " ".join(f"{f.name}:{getattr(cfg, f.name)}" for f in cfg.knobs()))

def check_output_folders(cfg: Hyperparameters):
    """Output folders are made and checked before any work, so a bad path cannot cost a run."""
    for name, path in (("ARTIFACT_PATH", cfg.artifact_path), ("EVAL_DUMP", cfg.eval_dump)):
        if not path:
            continue
        folder = Path(path).resolve().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{name}={path}: cannot create its folder ({exc})") from None
        if not os.access(folder, os.W_OK):
            raise ConfigError(f"{name}={path}: its folder {folder} is not writable")

def main():
    ctx = setup_distributed()
    try:
        cfg = Hyperparameters.from_env(cuda=ctx.device.type == "cuda")
        cfg.run_id = resolve_run_id(cfg, ctx)
        cfg.artifact_path = cfg.artifact_path or f"artifacts/{cfg.run_id}.pgolf"
        log = open_log(Path("logs") / f"{cfg.run_id}.txt" if ctx.rank == 0 else None)
        log_config(cfg, ctx, log)
        check_output_folders(cfg)
        if cfg.eval_artifact:
            model, cfg = model_from_artifact(cfg.eval_artifact, cfg, ctx)
            log("artifact_config " + " ".join(f"{k}:{v}" for k, v in cfg.model_config().items()))
        else:
            check_budget(cfg, log)
            grad_accum_steps(cfg, ctx)
            shard_files(cfg, "train")
        pin_attention(cfg, ctx, log)
        data = load_eval_data(cfg, ctx)
        log(f"val_tokens:{data.tokens.numel() - 1} val_bytes:{int(data.target_bytes.sum().item())}")
        if not cfg.eval_artifact:
            torch.manual_seed(cfg.seed)
            model = GPT(cfg).to(ctx.device)
            stored, effective = count_params(model, cfg)
            log(f"model_params stored:{stored} effective:{effective}")
            train(model, cfg, ctx, data, log)
            path = export_artifact(model, cfg, ctx, cfg.artifact_path, log)
            model, cfg = model_from_artifact(path, cfg, ctx)
        final = evaluate(model, data, cfg, ctx, log)
        log(f"final val_bpb:{final:.8f}")
    finally:
        if ctx.world > 1 and dist.is_initialized():
            # Wait for peers before teardown (gloo aborts otherwise), unless this rank alone failed (not a RunError).
            if sys.exc_info()[0] is None or issubclass(sys.exc_info()[0], RunError):
                dist.barrier()
            dist.destroy_process_group()

if __name__ == "__main__":
    try:
        main()
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.status)
