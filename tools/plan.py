"""Plans a configuration before paying for it: size, FLOPs, memory, the 8xH100 step and the evaluation.

    python tools/plan.py                                   # the competition configuration
    NUM_LAYERS=12 MODEL_DIM=640 python tools/plan.py       # any train_gpt.py variables

Reads the same environment variables as train_gpt.py (competition profile unless CONFIG_PROFILE
says otherwise), builds the model on the meta device and runs in seconds on a CPU. Bad variables
print `error: <message>` and exit 2. Every output line is `plan <kind> key:value ...` (values hold no
spaces, except a quoted assumption), then a short explanation:

  plan name:<configured|baseline|ternary_record> ...   one row per configuration, configured first (keys below)
  plan step name:<component> ms:<f> record_ms:<f|unknown> assumption:"..."   the configured step at all passes,
      part by part (below); then name:total (their sum) with flop_mfu_ms:<lo-hi>, the row's FLOP/MFU projection
  plan newton_schulz eager_ms: compiled_ms: gain_s_per_run: compile_s:48 decision:<eager|compile>   the slowest
      rank's Newton-Schulz per step both ways; the gain over the run's steps against the measured compile
  plan loop passes:<p> from:<progress> step_ms:<lo-hi> components_ms:   per phase: from `from` p passes run
  plan loop_steps_600s:<lo-hi> components:<n>   steps in 600 s over the phases (FLOP/MFU range; components)
  plan eval_s:<f> limit_s:600 target_s:560 margin_s:<560 - eval_s> compile_s: roundtrip_s: sliding_s: ttt_s:
  plan eval_data targets: docs: targets_from:<data_path|sp1024|sp8192_scaled|..> lengths_from: roundtrip_mfu:
  plan eval_ttt chunk: widths: rows: steps_per_rank: learn_steps: mfu:   the slowest rank's sequential steps
  plan eval_ttt_gflop_per_row width_<w>:<forward>+<backward> ...   FLOPs of one document row of one step
  plan eval_chunks 48:<eval_s> 64: 96: 128: fit_560:<chunks whose evaluation fits, or none>

`plan name:` rows:
- params_stored / params_effective: train_gpt.count_params (effective counts shared blocks once per loop).
- bytes_estimate: train_gpt.estimate_artifact_bytes at the bit ceilings, an upper bound on the artifact;
  bytes_smallest: the same at every group's fewest bits (train_gpt.bit_ladders), what training requires.
- flops_per_token_train / _eval: FlopCounterMode over one sequence on the meta device (train: forward +
  backward at TRAIN_SEQ_LEN with all passes; eval: forward at EVAL_SEQ_LEN, the head on every position).
  Matrix multiplications only (linears, the head, attention's QK^T and AV); attention counted unmasked.
- memory_mib_per_gpu: tensors saved for backward by one micro-batch forward (saved_tensors_hooks, bf16
  autocast emulated on meta: linears, matmuls and attention get bf16 inputs; attention saves what a fused
  kernel saves), plus fp32 parameters, gradients and optimizer state (Muon 1 buffer, Adam 2). Eager
  autograd: torch.compile usually saves less. activation_mib_fp32: the same tensors at 4 bytes.
- projected_step_ms_8xh100: step FLOPs / (8 x 989e12 x MFU) over the MFUs of the two anchors (their
  published step times and this script's FLOPs of their shapes; low = the higher MFU).
  projected_steps_600s integrates over LOOP_START_FRAC: one pass before it, LOOPS passes after, each at its own step.

FLOPs and saved tensors are counted on the same shape with plain linears (flop_model: quantizing is no
matmul and saves nothing; it is three times faster on meta).

Step components (ours, 8xH100, per GPU; each is a function with its `note`; the total is their sum):
  attention     causal FlashAttention-2 work (7 T d per token and block: forward 2, backward 5) at FA2_RATE,
                derived from the record: FA3 saved 13 ms a step at 26L x 512d (RESULTS.md, 149 -> 136 ms),
                taking FA3 as 1.6x FA2 (FA3 paper: 1.5-2.0x) gives FA2 = 180 TFLOP/s, FA3 = 290.
  matmul        linears and head, forward + backward (FlopCounterMode), at GEMM_EFF of peak (assumed).
  elementwise   norms, rotary, activations, softcap, cross-entropy, residuals: 4 x the saved activation
                bytes (written, read back, gradient written and read) at HBM 3.35 TB/s (assumed passes; the
                bytes are eager autograd's, which a compiled graph cuts: an upper end).
  quantization  absmean ternary weights in every forward: 10 B per executed weight (fp32 read twice, bf16
                written; the forward is compiled) at HBM bandwidth.
  newton_schulz the slowest rank's share (Muon.owner's balance, q/k/v parts apart), eager: FLOPs at NS_EFF of
                peak plus 6 + 8 x steps kernels per part at KERNEL_S each (the host's eager dispatch, about
                10 us an op, runs ahead of the GPU between host reads). Compiled it would be 3 + 5 x steps.
  optimizer     Muon momentum, row norm and apply, Adam: bytes at HBM bandwidth plus their kernels.
  grad_reduce   bf16 buckets of tg.GRAD_BUCKET tensors after the backward (no overlap): packing 28 B per parameter
                at HBM bandwidth + 2 (n-1)/n x bytes at BUS_BW (NCCL ring on NVLink, assumed) + latency.
  muon_reduce   one all-reduce of every Muon update, in MUON_DTYPE, same model.
  host_reads    every SYNC_EVERY steps the host reads the device: a HOST_BUBBLE_S gap while it refills.
  launch_gaps   about 45 kernels per executed block (forward + backward, compiled) at 1.5 us each.
  Record figures: only the total is published (91.8 ms, for the record's own shape); RESULTS.md lists
  savings (FA3 13 ms, fused QKV 2, relu^2 2-4, int16 loader 1, bf16 ternary weights 1, DDP static_graph 1,
  fused optimizer loop 0.5, Newton-Schulz 5 -> 3 steps 6), mostly measured at 26L x 512d.
  This NS model gives 2 ms for 5 -> 3 compiled steps at 26L x 512d; the record measured 6 (one run each).
  Changed by this project, `was` in the assumption: gradient exchange fp32 -> bf16, host reads every
  step -> every 10, Newton-Schulz compiled -> eager (48 s of inductor compile on CPU for the six shapes
  against the gain printed; compile warm-up is untimed, so the gain is steps, the cost wall clock).

Evaluation (8xH100, `plan eval_s:`) = compile + roundtrip + sliding (EVAL_STRIDE > 0) + doc TTT:
- Efficiency: the baseline scored its 63,779,840 validation targets once in 1.401 s (its train.log:
  val_loader tokens, final_int8_zlib_roundtrip eval_time), which at this script's FLOPs of its shape is
  the roundtrip MFU (about 0.30); roundtrip and sliding run at it, TTT steps at TTT_MFU_FRACTION (0.5,
  assumed: rank-80 batched products, a backward of many small kernels) of it.
- Targets: DATA_PATH's validation shards when there; else sp1024 62,021,846 (records print 62,021,632,
  cut to 1,024s), sp8192 that x 679,222 / 1,040,298 (the same 902 documents in both; the ternary record's
  logs do not print its count; an sp8192 record's logs print 40,540,160, cut to 2,048s: 0.1% off).
- Documents: DATA_PATH's BOS positions, else data/sample/fineweb_val_000000.bin's 54 (sp1024, lengths x
  the ratio for other vocabularies), each repeated to the full count of targets (the sample's longest,
  16,434 tokens, holds a quarter of its targets: the largest uncertainty of the TTT steps).
- TTT: train_gpt.doc_batches' batches (longest first, TTT_DOC_BATCH rows), batch k on rank k % 8; per batch
  ceil(longest / chunk) steps, chunk j at train_gpt.ttt_window's width, a backward for all but the last.
  FLOPs per row counted with FlopCounterMode on meta through train_gpt.attach_lora and GPT.nll (forward,
  and the backward to the adapters through frozen weights) once per width; other chunks change only the
  head's share (head_row_flops). Per learning step the adapters' foreach AdamW, zero_grad and gradient
  accumulation move 92 B per adapter parameter at HBM bandwidth.
- Compile: the scoring graph (and the sliding tail) at 15 s, each TTT width with gradients at 35 s
  (tools/gpu_check.sh: C = 35 s a training graph, Ce = 15 s forward-only), and each TTT width without
  gradients (a batch's last chunk runs under no_grad, a guard of its own; prime_eval does not compile
  these, so they compile inside the timed TTT pass) at 15 s more.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import math
import os
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import train_gpt as tg  # noqa: E402

GPUS = 8
PEAK_FLOPS = 989e12  # H100 SXM bf16 dense, per GPU (datasheet: 1,979 TFLOPS with sparsity)
HBM_BW = 3.35e12  # H100 SXM HBM3, bytes/s (datasheet)
BUDGET_S = 600.0  # the challenge's training wall clock, and its evaluation limit
EVAL_TARGET_S = 560.0  # the evaluation must project under this (40 s margin)
MIB = 2**20
RECORDS = "openai/parameter-golf:records/track_10min_16mb/"

# Step assumptions (the docstring says where each comes from).
GEMM_EFF = 0.65  # cuBLAS bf16 GEMMs of 65,536 rows x 768-3,072: assumed share of peak
FA3_SAVED_S, FA3_SPEEDUP, FA3_AT = 13e-3, 1.6, dict(layers=26, dim=512, seq=1024, tokens=524288)  # record's RESULTS.md
EW_PASSES = 4  # elementwise traffic: saved activation bytes x this
QUANT_BYTES = 10  # per executed ternary weight and forward
NS_EFF = 0.35  # Newton-Schulz matmuls (one 768 x 3,072 matrix at a time): share of peak
KERNEL_S = 5e-6  # GPU time of a small eager kernel (launch + its few MB)
BUS_BW = 300e9  # NCCL all-reduce bus bandwidth, 8 x H100 NVLink, 16-32 MB messages (assumed)
COLLECTIVE_S = 30e-6  # latency per all-reduce
HOST_BUBBLE_S = 1e-3  # GPU idle per host read: loader slice, pinned copy, first launches
LAUNCH_GAP_S, KERNELS_PER_BLOCK = 1.5e-6, 45
NS_COMPILE_S = 48.0  # inductor compile of newton_schulz, six competition shapes, fp32, measured on CPU

# Evaluation facts and assumptions.
BASELINE_EVAL = dict(targets=63_779_840, seconds=1.401)  # NaiveBaseline/train.log
SP1024_TARGETS = 62_021_846
SP_RATIO = {1024: 1.0, 8192: 679_222 / 1_040_298}  # tokens of the same 902 validation documents
TTT_MFU_FRACTION = 0.5  # batched small-chunk steps with a backward, rank-80 bmm: half the roundtrip's MFU
COMPILE_GRAD_S, COMPILE_FWD_S = 35.0, 15.0  # tools/gpu_check.sh C and Ce
ADAPTER_BYTES = 92  # per adapter parameter and learning step: foreach AdamW 80, zero_grad 4, accumulation 8
EVAL_CHUNKS = (48, 64, 96, 128)
SAMPLE_VAL = ROOT / "data" / "sample" / "fineweb_val_000000.bin"

# Shapes of the two anchors; everything not listed is train_gpt's competition default.
ANCHOR_COMMON = {"CONFIG_PROFILE": "competition", "TRAIN_SEQ_LEN": "1024", "TRAIN_BATCH_TOKENS": "524288",
                 "LOOPS": "1", "PRELUDE_LAYERS": "0", "CODA_LAYERS": "0"}
ANCHORS = {
    "baseline": dict(
        env={**ANCHOR_COMMON, "TERNARY_LAYERS": "none", "NUM_LAYERS": "9", "MODEL_DIM": "512", "MLP_MULT": "2",
             "NUM_HEADS": "8", "NUM_KV_HEADS": "4", "VOCAB_SIZE": "1024", "EMBED_DIM": "0", "UNET_SKIPS": "0"},
        measured_ms=43.54, source=RECORDS + "2026-03-17_NaiveBaseline/README.md"),
    "ternary_record": dict(
        env={**ANCHOR_COMMON, "TERNARY_LAYERS": "attn,mlp", "TERNARY_GROUP": "128", "NUM_LAYERS": "10", "MODEL_DIM": "768",
             "MLP_MULT": "4", "NUM_HEADS": "8", "NUM_KV_HEADS": "4", "VOCAB_SIZE": "8192", "EMBED_DIM": "254", "UNET_SKIPS": "1"},
        measured_ms=91.8, source=RECORDS + "2026-03-24_74M_Ternary_UNet_FP8_10L_8192BPE_YaRN_NeoMuon/README.md"),
}


def anchor_cfg(name: str) -> tuple[tg.Hyperparameters, str]:
    """The anchor's configuration and a `key:value` naming its factored embedding ('' if it has none)."""
    cfg = tg.Hyperparameters.from_env(env=ANCHORS[name]["env"], cuda=True)
    return cfg, f"embed_dim:{cfg.embed_dim}" if cfg.embed_dim else ""


def meta_model(cfg: tg.Hyperparameters) -> tg.GPT:
    with torch.device("meta"):
        return tg.GPT(cfg)


def flop_model(cfg: tg.Hyperparameters) -> tg.GPT:
    """The shape with plain linears: the same matmuls and saved tensors as ternary ones (quantizing is no
    matmul and saves nothing), three times faster to count on the meta device."""
    return meta_model(dataclasses.replace(cfg, ternary_layers="none"))


def tokens(batch: int, seq_len: int) -> torch.Tensor:
    return torch.zeros(batch, seq_len, dtype=torch.long, device="meta")


def count_ops(fn) -> dict[str, float]:
    """FLOPs of fn() by aten op name (mm: linears and head; bmm: attention, and LoRA's batched products)."""
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return {str(op).split(".")[-1]: n for op, n in counter.get_flop_counts().get("Global", {}).items()}


def train_flops(model: tg.GPT, seq_len: int, loops: int = 0) -> tuple[float, bool]:
    """(forward + backward FLOPs per token with `loops` passes of the shared blocks (0: LOOPS), whether the
    backward was counted). If the backward cannot run on meta tensors it is taken as 2x the forward's
    matmul FLOPs (each matmul's backward is two matmuls of its size)."""
    split, counted = train_flop_split(model, seq_len, loops)
    return sum(split.values()), counted


def train_flop_split(model: tg.GPT, seq_len: int, loops: int = 0) -> tuple[dict[str, float], bool]:
    """train_flops by op, per token: {"mm": ..., "bmm": ...} (training has no LoRA: bmm is attention)."""
    x = tokens(1, seq_len)

    def step():
        model(x, x, loops)[0].backward()
    try:
        ops, counted = count_ops(step), True
    except (RuntimeError, NotImplementedError):
        ops, counted = {k: 3 * v for k, v in count_ops(lambda: model(x, x, loops)).items()}, False
    finally:
        model.zero_grad(set_to_none=True)
    return {k: v / seq_len for k, v in ops.items()}, counted


def eval_flops(model: tg.GPT, seq_len: int) -> float:
    """Forward FLOPs per token of one evaluation window, the head on every position (the roundtrip's)."""
    x = tokens(1, seq_len)
    with torch.no_grad():
        return sum(count_ops(lambda: model.logits(x)).values()) / seq_len


class _FusedAttentionSaves(torch.autograd.Function):
    """Stands in for a fused attention kernel when measuring memory: saves q, k, v, the output and an
    fp32 log-sum-exp per query row, as flash / memory-efficient attention does (no T x T matrix)."""

    @staticmethod
    def forward(ctx, q, k, v):
        out = torch.empty_like(q)
        lse = q.new_empty(q.shape[:-1], dtype=torch.float32)
        ctx.save_for_backward(q, k, v, out, lse)
        return out

    @staticmethod
    def backward(ctx, grad):  # pragma: no cover - memory measurement never runs the backward
        raise NotImplementedError("memory measurement only")


BF16_OPS = {F.linear, torch.matmul, torch.mm, torch.bmm, torch.Tensor.matmul, torch.Tensor.__matmul__}


class _AutocastEmulation(TorchFunctionMode):
    """On meta tensors: attention as a fused kernel, and the matmul-class ops that CUDA autocast runs
    in bf16 get bf16 inputs; other ops follow ordinary type promotion."""

    @staticmethod
    def cast(args):
        return tuple(a.to(torch.bfloat16) if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention:
            q, k, v = self.cast(args[:3])
            return _FusedAttentionSaves.apply(q, k, v)
        if func in BF16_OPS:
            return func(*self.cast(args), **kwargs)
        return func(*args, **kwargs)


def storage_key(t: torch.Tensor) -> int:
    """Identity of a tensor's memory: views and detached aliases share it (meta tensors have no data pointer)."""
    return t.untyped_storage()._cdata


def saved_bytes(model: tg.GPT, batch: int, seq_len: int, loops: int = 0) -> tuple[int, int]:
    """Bytes of the distinct non-parameter storages autograd saves in one training forward under the
    bf16 emulation, and the same tensors with every floating-point one counted at 4 bytes an element."""
    params = {storage_key(p) for p in model.parameters()}
    saved: dict[int, torch.Tensor] = {}  # keeps one tensor per storage alive, so keys stay unique

    def pack(t: torch.Tensor):
        key = storage_key(t)
        if key not in params:
            saved.setdefault(key, t)
        return t

    x = tokens(batch, seq_len)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), _AutocastEmulation():
        model(x, x, loops)
    stored = [t.untyped_storage().nbytes() for t in saved.values()]
    fp32 = [n // t.element_size() * 4 if t.is_floating_point() else n for n, t in zip(stored, saved.values())]
    return sum(stored), sum(fp32)


def activation_bytes(model: tg.GPT, seqs: int, seq_len: int, loops: int = 0) -> tuple[int, int]:
    """saved_bytes at `seqs` sequences, from meta forwards at 1 and 2 (it is linear in the batch)."""
    one, two = saved_bytes(model, 1, seq_len, loops), saved_bytes(model, 2, seq_len, loops)
    return tuple(a + (seqs - 1) * (b - a) for a, b in zip(one, two))


def state_bytes(model: tg.GPT) -> int:
    """Parameters + gradients + optimizer state (Muon momentum for matrices, Adam's two moments otherwise)."""
    params = list(model.parameters())
    total = sum(2 * p.numel() * p.element_size() for p in params)
    muon = {id(p) for p in tg.param_groups(model)["muon"]}
    return total + sum((1 if id(p) in muon else 2) * p.numel() * 4 for p in params)


def gpu_ctx(rank: int = 0) -> SimpleNamespace:
    return SimpleNamespace(world=GPUS, rank=rank, device=torch.device("cuda"))


def micro_batch(cfg: tg.Hyperparameters) -> tuple[int, int]:
    """(grad_accum, sequences per GPU per micro-step) on 8 GPUs, as train_gpt computes them."""
    accum = tg.grad_accum_steps(cfg, gpu_ctx())
    return accum, cfg.train_batch_tokens // (GPUS * accum * cfg.train_seq_len)


def measure(cfg: tg.Hyperparameters) -> dict:
    """Every figure of one configuration that does not depend on the anchors, with the FLOPs and activations of
    every pass count of the shared blocks (passes[p]), for the step budget and the loop."""
    accum, seqs = micro_batch(cfg)
    model, twin = meta_model(cfg), flop_model(cfg)
    stored, effective = tg.count_params(model, cfg)
    ladders = tg.bit_ladders(cfg)
    facts = dict(params_stored=stored, params_effective=effective, bytes_estimate=tg.estimate_artifact_bytes(cfg),
                 bytes_smallest=tg.estimate_artifact_bytes(cfg, {g: ladder[-1] for g, ladder in ladders.items()}))
    passes = {}
    for p in range(1, cfg.loops + 1):
        split, counted = train_flop_split(twin, cfg.train_seq_len, p)
        passes[p] = dict(split=split, flops=sum(split.values()), counted=counted,
                         act=activation_bytes(twin, seqs, cfg.train_seq_len, p))
    full = passes[cfg.loops]
    facts["flops_per_token_train"], counted = full["flops"], full["counted"]
    facts["flops_per_token_eval"] = eval_flops(twin, cfg.eval_seq_len)
    act, act_fp32 = full["act"]
    state = state_bytes(model)
    facts.update(
        backward="counted" if counted else "estimated_2x_forward", grad_accum=accum,
        micro_batch_tokens_per_gpu=seqs * cfg.train_seq_len, activation_mib=act / MIB,
        activation_mib_fp32=act_fp32 / MIB, state_mib=state / MIB, memory_mib_per_gpu=(act + state) / MIB,
        step_flops=full["flops"] * cfg.train_batch_tokens, step_flops_one_loop=passes[1]["flops"] * cfg.train_batch_tokens,
        step_flops_passes={p: v["flops"] * cfg.train_batch_tokens for p, v in passes.items()},
        passes=passes, model=model, flop_model=twin,
    )
    return facts


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def step_ms(flops: float, mfu: float) -> float:
    return 1000 * flops / (GPUS * PEAK_FLOPS * mfu)


def loop_phases(cfg: tg.Hyperparameters) -> list[tuple[int, float, float]]:
    """(passes, from progress, to progress) of each training phase: once before LOOP_START_FRAC, LOOPS times after."""
    start = cfg.loop_start_frac if cfg.loops > 1 else 1.0
    return [(p, a, b) for p, a, b in ((1, 0.0, start), (cfg.loops, start, 1.0)) if b > a]


def steps_in_600s(cfg: tg.Hyperparameters, step_s: dict[int, float]) -> int:
    """Optimizer steps in 600 s when each phase of loop_phases runs at step_s[passes] (at most ITERATIONS)."""
    return min(cfg.iterations, math.floor(sum((b - a) * BUDGET_S / step_s[p] for p, a, b in loop_phases(cfg))))


def steps_in_budget(facts: dict, cfg: tg.Hyperparameters, mfu: float) -> int:
    return steps_in_600s(cfg, {p: step_ms(f, mfu) / 1000 for p, f in facts["step_flops_passes"].items()})


def anchor_mfus() -> dict[str, tuple[tg.Hyperparameters, dict, str]]:
    out = {}
    for name, a in ANCHORS.items():
        cfg, missing = anchor_cfg(name)
        facts = measure(cfg)
        facts["mfu"] = 1000 * facts["step_flops"] / (GPUS * PEAK_FLOPS * a["measured_ms"])
        out[name] = (cfg, facts, missing)
    return out


def span(low: float, high: float, fmt: str = ".2f") -> str:
    return f"{low:{fmt}}-{high:{fmt}}"


def row(name: str, cfg: tg.Hyperparameters, facts: dict, mfus: list[float], extra: list[str]) -> str:
    """One grep-parsable line; `extra` holds further `key:value` parts."""
    fast, slow = max(mfus), min(mfus)  # the higher MFU gives the shorter step
    shape = f"{cfg.num_layers}x{cfg.model_dim}" + (f"_loops{cfg.loops}" if cfg.loops > 1 else "")
    parts = [
        f"plan name:{name}", f"shape:{shape}", f"vocab:{cfg.vocab_size}", f"seq_len:{cfg.train_seq_len}",
        f"ternary:{','.join(sorted(cfg.ternary_kinds)) or 'none'}",
        f"params_stored:{facts['params_stored']}", f"params_effective:{facts['params_effective']}",
        f"bytes_estimate:{facts['bytes_estimate']}", f"bytes_smallest:{facts['bytes_smallest']}",
        f"flops_per_token_train:{facts['flops_per_token_train']:.0f}",
        f"flops_per_token_eval:{facts['flops_per_token_eval']:.0f}",
        f"backward:{facts['backward']}", f"tokens_per_step:{cfg.train_batch_tokens}", f"grad_accum:{facts['grad_accum']}",
        f"micro_batch_tokens_per_gpu:{facts['micro_batch_tokens_per_gpu']}",
        f"memory_mib_per_gpu:{facts['memory_mib_per_gpu']:.0f}", f"activation_mib:{facts['activation_mib']:.0f}",
        f"activation_mib_fp32:{facts['activation_mib_fp32']:.0f}", f"state_mib:{facts['state_mib']:.0f}",
        f"mfu:{facts['mfu']:.4f}" if "mfu" in facts else f"mfu:{slow:.4f}-{fast:.4f}",
        f"projected_step_ms_8xh100:{span(step_ms(facts['step_flops'], fast), step_ms(facts['step_flops'], slow))}",
        f"projected_steps_600s:{steps_in_budget(facts, cfg, slow)}-{steps_in_budget(facts, cfg, fast)}",
    ]
    if cfg.loops > 1:
        one = facts["step_flops_one_loop"]
        parts.append(f"projected_step_ms_8xh100_one_loop:{span(step_ms(one, fast), step_ms(one, slow))}")
    return " ".join(parts + extra)


# ---- Step budget: where the projected step's time goes ------------------------------------------------


class Part(NamedTuple):
    ms: float
    note: str  # the assumption, short enough for one output line
    record_ms: float | None = None


@dataclasses.dataclass
class StepShape:
    """What the step's components read: one GPU's share of one optimizer step at `passes`."""
    cfg: tg.Hyperparameters
    model: tg.GPT
    passes: int
    tokens_per_gpu: int  # over all micro-steps
    forwards: int  # micro-steps (forwards) per optimizer step
    flops: dict[str, float]  # per token, forward + backward, by op (mm, bmm)
    act_bytes: int  # saved activation bytes over the step's micro-batches


def step_shape(cfg: tg.Hyperparameters, facts: dict, passes: int) -> StepShape:
    v = facts["passes"][passes]
    return StepShape(cfg, facts["model"], passes, cfg.train_batch_tokens // GPUS, facts["grad_accum"], v["split"],
                     v["act"][0] * facts["grad_accum"])


def fa2_rate() -> float:
    """FLOP/s of FlashAttention-2's causal work: the record's FA3 saving, FA3_SAVED_S at FA3_AT, is the FA2 time
    x (1 - 1 / FA3_SPEEDUP)."""
    work = 7 * FA3_AT["seq"] * FA3_AT["dim"] * FA3_AT["layers"] * FA3_AT["tokens"] / GPUS
    return work / (FA3_SAVED_S * FA3_SPEEDUP / (FA3_SPEEDUP - 1))


def attention(s: StepShape) -> Part:
    # FlopCounterMode counts 12 T d per token and block (forward 4, backward 8, unmasked); FA2 does 7 (2 + 5)
    work = s.flops.get("bmm", 0) * 7 / 12 * s.tokens_per_gpu
    ms = 1000 * work / fa2_rate()
    return Part(ms, f"FA2 at {fa2_rate() / 1e12:.0f} TFLOP/s of causal work; FA3 (record): {ms / FA3_SPEEDUP:.1f} ms")


def matmul(s: StepShape) -> Part:
    return Part(1000 * s.flops.get("mm", 0) * s.tokens_per_gpu / (PEAK_FLOPS * GEMM_EFF),
                f"linears+head fwd+bwd at {GEMM_EFF:.0%} of 989 TFLOP/s")


def elementwise(s: StepShape) -> Part:
    return Part(1000 * EW_PASSES * s.act_bytes / HBM_BW,
                f"{EW_PASSES} x {s.act_bytes / 2**30:.1f} GiB eager-saved activations, 3.35 TB/s (upper end)")


def executed_ternary_weights(model: tg.GPT, passes: int) -> int:
    return sum(m.weight.numel() for block in model.body.schedule(passes) for m in block.modules()
               if isinstance(m, tg.BitLinear))


def quantization(s: StepShape) -> Part:
    n = executed_ternary_weights(s.model, s.passes) * s.forwards
    return Part(1000 * QUANT_BYTES * n / HBM_BW, f"{QUANT_BYTES} B x {n / 1e6:.0f}M weights per step at 3.35 TB/s")


def muon_shares(model: tg.GPT, cfg: tg.Hyperparameters, world: int = GPUS) -> list[list[tuple[int, int]]]:
    """Per rank, the (rows, cols) of every part it orthogonalizes, as train_gpt.Muon assigns its matrices to
    ranks (Muon.owner), the row blocks of train_gpt.row_splits (q, k, v) apart."""
    splits = tg.row_splits(model)
    muon = tg.Muon(tg.param_groups(model)["muon"], cfg, SimpleNamespace(world=world, rank=0), splits)
    shares = [[] for _ in range(world)]
    for p, rank in muon.owner.items():
        shares[rank] += [(rows, p.size(1)) for rows in splits.get(p, [p.size(0)])]
    return shares


def ns_kernels(steps: int, compiled: bool) -> int:
    """Kernels of one newton_schulz call: eager, cast, norm, eps, divide, 8 per iteration, cast back; compiled,
    cast + normalize fused, three matmuls and two fused pointwise per iteration, cast back."""
    return 3 + 5 * steps if compiled else 6 + 8 * steps


def newton_schulz_rank_ms(parts: list[tuple[int, int]], steps: int, compiled: bool) -> float:
    flops = sum(steps * (4 * min(r, c) ** 2 * max(r, c) + 2 * min(r, c) ** 3) for r, c in parts)
    return 1000 * (flops / (PEAK_FLOPS * NS_EFF) + len(parts) * ns_kernels(steps, compiled) * KERNEL_S)


def newton_schulz_ms(model: tg.GPT, cfg: tg.Hyperparameters, steps: int, compiled: bool) -> float:
    """The slowest rank's Newton-Schulz time: every rank waits for it at the update all-reduce."""
    return max(newton_schulz_rank_ms(parts, steps, compiled) for parts in muon_shares(model, cfg))


def newton_schulz(s: StepShape) -> Part:
    steps = s.cfg.muon_backend_steps
    eager, compiled = (newton_schulz_ms(s.model, s.cfg, steps, c) for c in (False, True))
    return Part(eager, f"slowest rank, eager, {KERNEL_S * 1e6:.0f} us a kernel; was compiled: {compiled:.2f} ms")


def optimizer(s: StepShape) -> Part:
    """Muon on the owner rank: momentum (24 B), Nesterov add (12), row norm (8), cat and copy (14), ~10 kernels a
    matrix; on every rank the apply (18 B per parameter, 2 kernels a matrix); fused Adam 28 B per parameter."""
    groups = tg.param_groups(s.model)
    muon = groups["muon"]
    owned = max(sum(p.numel() for p in muon[r::GPUS]) for r in range(GPUS))
    adam = sum(p.numel() for p in groups["embed"] + groups["scalar"])
    moved = 58 * owned + 18 * sum(p.numel() for p in muon) + 28 * adam
    kernels = 10 * len(muon[::GPUS]) + 2 * len(muon) + 4
    return Part(1000 * (moved / HBM_BW + kernels * KERNEL_S), f"Muon momentum/apply + fused Adam: {moved / 1e9:.1f} GB"
                f", {kernels} kernels")


def all_reduce_s(elements: int, bytes_per: int, calls: int) -> float:
    return elements * bytes_per * 2 * (GPUS - 1) / GPUS / BUS_BW + calls * COLLECTIVE_S


def trainable(model: tg.GPT) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def grad_reduce_ms(model: tg.GPT, dtype: str) -> float:
    n, tensors = trainable(model), sum(p.requires_grad for p in model.parameters())
    size, pack = (2, 28) if dtype == "bf16" else (4, 24)  # pack: cat, divide, cast, copy back
    return 1000 * (n * pack / HBM_BW + all_reduce_s(n, size, ceil_div(tensors, tg.GRAD_BUCKET)))


def grad_reduce(s: StepShape) -> Part:
    dtype = s.cfg.grad_reduce_dtype
    return Part(grad_reduce_ms(s.model, dtype), f"{dtype} after the backward, {BUS_BW / 1e9:.0f} GB/s busbw; "
                f"was fp32: {grad_reduce_ms(s.model, 'fp32'):.2f} ms")


def muon_reduce(s: StepShape) -> Part:
    n = sum(p.numel() for p in tg.param_groups(s.model)["muon"])
    size = 2 if s.cfg.muon_dtype == "bf16" else 4
    return Part(1000 * all_reduce_s(n, size, 1), f"{n / 1e6:.0f}M updates in {s.cfg.muon_dtype}, one all-reduce")


def host_reads(s: StepShape) -> Part:
    every = s.cfg.sync_every
    read = HOST_BUBBLE_S + COLLECTIVE_S
    return Part(1000 * read / every, f"{read * 1e3:.2f} ms idle per read, every {every} steps; was every step: "
                f"{read * 1e3:.2f} ms")


def launch_gaps(s: StepShape) -> Part:
    kernels = KERNELS_PER_BLOCK * len(s.model.body.schedule(s.passes)) * s.forwards
    return Part(1000 * kernels * LAUNCH_GAP_S, f"~{kernels} compiled kernels at {LAUNCH_GAP_S * 1e6:.1f} us gap each")


COMPONENTS = (attention, matmul, elementwise, quantization, newton_schulz, optimizer, grad_reduce, muon_reduce,
              host_reads, launch_gaps)


def step_budget(shape: StepShape) -> dict[str, Part]:
    return {f.__name__: f(shape) for f in COMPONENTS}


def budget_total(parts: dict[str, Part]) -> float:
    return sum(p.ms for p in parts.values())


def step_lines(parts: dict[str, Part], record_ms: float | None, flop_ms: tuple[float, float]) -> list[str]:
    def fmt(v):
        return "unknown" if v is None else f"{v:.2f}"
    lines = [f'plan step name:{n} ms:{p.ms:.2f} record_ms:{fmt(p.record_ms)} assumption:"{p.note}"' for n, p in parts.items()]
    lines.append(f"plan step name:total ms:{budget_total(parts):.2f} record_ms:{fmt(record_ms)} "
                 f'flop_mfu_ms:{span(*flop_ms)} assumption:"sum of the above"')
    return lines


# ---- Evaluation: roundtrip, sliding windows, doc TTT, compile -----------------------------------------


def val_tokens_path(cfg: tg.Hyperparameters) -> list[str]:
    return sorted(glob.glob(os.path.join(cfg.data_path, "fineweb_val_*.bin")))


def shard_doc_lengths(toks: np.ndarray) -> list[int]:
    """Targets of each document of a token stream, as train_gpt.doc_batches splits it (from a BOS to the next)."""
    n = len(toks) - 1
    starts = sorted({0, *np.flatnonzero(toks[:n] == tg.BOS_ID).tolist()})
    return [b - a for a, b in zip(starts, starts[1:] + [n])]


def doc_lengths(cfg: tg.Hyperparameters) -> tuple[list[int], str, str]:
    """(document lengths in targets, where the count of targets comes from, where the lengths come from)."""
    files = val_tokens_path(cfg)
    if files:
        return shard_doc_lengths(np.concatenate([tg.load_shard(f, cfg.vocab_size) for f in files])), "data_path", "data_path"
    ratio = SP_RATIO.get(cfg.vocab_size)
    sample = shard_doc_lengths(tg.load_shard(SAMPLE_VAL, 1024))
    scaled = [max(1, round(n * (ratio or 1.0))) for n in sample]
    target = SP1024_TARGETS * (ratio or 1.0)
    reps = max(1, round(target / sum(scaled)))
    source = "sp1024" if cfg.vocab_size == 1024 else f"sp{cfg.vocab_size}_scaled" if ratio else "sp1024_unscaled"
    return scaled * reps, source, f"sample{len(sample)}docs_x{reps}" + ("_scaled" if ratio and ratio != 1 else "")


def rank_batches(lengths: list[int], size: int, world: int = GPUS) -> list[list[int]]:
    """Per rank, the longest document of each of its batches, by train_gpt.doc_batches on a stream with a BOS
    at each document's start (batch k on rank k % world, as eval_ttt_doc takes them)."""
    n = sum(lengths)
    stream = torch.zeros(n + 1, dtype=torch.int16)
    stream[torch.tensor([0, *np.cumsum(lengths)[:-1].tolist()], dtype=torch.long)] = tg.BOS_ID
    batches = tg.doc_batches(stream, n, size)
    return [[int((b[:, 1] - b[:, 0]).max()) for b in batches[r::world]] for r in range(world)]


def sequential_steps(longest: list[int], chunk: int) -> int:
    """Chunk steps of one rank: each batch runs as many as its longest document has chunks."""
    return sum(ceil_div(n, chunk) for n in longest)


def ttt_schedule(longest: list[int], cfg: tg.Hyperparameters) -> Counter:
    """(window width, learns) -> steps of one rank: chunk j at ttt_window(j)'s width; a batch's last chunk
    teaches nothing (no backward)."""
    out = Counter()
    for n in longest:
        steps = ceil_div(n, cfg.ttt_doc_chunk)
        for j in range(steps):
            out[(tg.ttt_window(j, cfg)[0], j + 1 < steps)] += 1
    return out


def lora_flops(model: tg.GPT, cfg: tg.Hyperparameters, forward) -> tuple[dict, dict]:
    """(forward, backward) FLOPs by op of forward() with train_gpt.attach_lora's adapters on one row, and of the
    backward of its sum to the adapters through the frozen weights."""
    tg.attach_lora(model, cfg, 1)
    try:
        out = {}
        return (count_ops(lambda: out.setdefault("y", forward())), count_ops(lambda: out["y"].sum().backward()))
    finally:
        tg.detach_lora(model)
        model.zero_grad(set_to_none=True)


def ttt_row_flops(model: tg.GPT, cfg: tg.Hyperparameters, width: int) -> tuple[dict, dict]:
    """(forward, backward) FLOPs by op of one row of a doc-TTT step at `width`: GPT.nll on TTT_DOC_CHUNK positions."""
    x, offset = tokens(1, width), torch.tensor(width - cfg.ttt_doc_chunk, device="meta")
    return lora_flops(model, cfg, lambda: model.nll(x, x, offset, cfg.ttt_doc_chunk))


def head_row_flops(model: tg.GPT, cfg: tg.Hyperparameters, count: int) -> tuple[float, float]:
    """(forward, backward) FLOPs of the head alone on `count` positions: all that the chunk's size changes in a
    TTT row (the blocks run the whole window whatever the chunk)."""
    x = torch.zeros(1, count, cfg.model_dim, device="meta", requires_grad=True)
    return tuple(sum(ops.values()) for ops in lora_flops(model, cfg, lambda: model.head(x)))


def ttt_flops(model: tg.GPT, cfg: tg.Hyperparameters, width: int, memo: dict) -> tuple[float, float]:
    """ttt_row_flops' totals, counted once per width in `memo`; for another chunk, the head's difference."""
    chunk, counted = memoized(memo, ("ttt", width), lambda: (cfg.ttt_doc_chunk, tuple(
        sum(d.values()) for d in ttt_row_flops(model, cfg, width))))
    if chunk == cfg.ttt_doc_chunk:
        return counted
    new, old = (memoized(memo, ("head", c), lambda: head_row_flops(model, cfg, c)) for c in (cfg.ttt_doc_chunk, chunk))
    return tuple(total + a - b for total, a, b in zip(counted, new, old))


def adapter_params(model: tg.GPT, cfg: tg.Hyperparameters) -> int:
    """Adapter parameters per document row (attach_lora: every block linear, and embed_out)."""
    linears = [m for b in model.body.stored_blocks() for m in b.modules() if isinstance(m, tg.CastedLinear)]
    linears += [model.embed_out] if model.embed_out is not None else []
    return sum(cfg.ttt_lora_rank * (m.in_features + m.out_features) for m in linears)


def eval_mfu(anchors: dict) -> float:
    """The baseline's roundtrip MFU: its targets x this script's eval FLOPs per token of its shape, over 1.401 s."""
    flops = anchors["baseline"][1]["flops_per_token_eval"] * BASELINE_EVAL["targets"]
    return flops / (BASELINE_EVAL["seconds"] * GPUS * PEAK_FLOPS)


def compile_graphs(cfg: tg.Hyperparameters) -> dict[str, float]:
    """Graphs the evaluation compiles (COMPILE=1) and their assumed seconds: prime_eval's scoring batch (and the
    sliding tail), each TTT width with gradients, and each TTT width without (compiled in the TTT pass)."""
    if not cfg.compile:
        return {}
    graphs = {"score": COMPILE_FWD_S}
    if cfg.eval_stride and cfg.eval_stride < cfg.eval_seq_len:
        graphs["sliding_tail"] = COMPILE_FWD_S
    if cfg.ttt == "doc":
        for w in tg.ttt_widths(cfg):
            graphs[f"ttt{w}_grad"], graphs[f"ttt{w}_nograd"] = COMPILE_GRAD_S, COMPILE_FWD_S
    return graphs


def pass_seconds(windows: int, rows: int, flops_per_window: float, mfu: float) -> float:
    """A scoring pass over `windows` windows, rank r taking every 8th, in batches of `rows` (the last padded)."""
    return ceil_div(ceil_div(windows, GPUS), rows) * rows * flops_per_window / (PEAK_FLOPS * mfu)


def memoized(memo: dict, key, fn):
    if key not in memo:
        memo[key] = fn()
    return memo[key]


def eval_projection(cfg: tg.Hyperparameters, model: tg.GPT, mfu: float, lengths: list[int],
                    longest: list[list[int]] | None = None, memo: dict | None = None) -> dict:
    """Seconds of the evaluation on 8xH100, by phase, with the TTT pass's schedule and FLOPs. `longest`: the
    ranks' batches (rank_batches), `memo`: FLOP counts kept between calls on the same model."""
    n, L, memo = sum(lengths), cfg.eval_seq_len, {} if memo is None else memo
    rows = tg.eval_batch(cfg, gpu_ctx(), L)
    per_token = memoized(memo, ("eval", L), lambda: eval_flops(model, L))
    out = dict(compile_s=sum(compile_graphs(cfg).values()), graphs=compile_graphs(cfg),
               roundtrip_s=pass_seconds(ceil_div(n, L), rows, per_token * L, mfu), sliding_s=0.0, ttt_s=0.0)
    if cfg.eval_stride:
        x = tokens(1, L)
        with torch.no_grad():
            window = sum(count_ops(lambda: model.nll(x, x, torch.tensor(L - cfg.eval_stride, device="meta"),
                                                     cfg.eval_stride)).values())
        out["sliding_s"] = pass_seconds(len(tg.plan_windows(0, n, L, cfg.eval_stride)), rows, window, mfu)
    if cfg.ttt == "doc":
        longest = longest or rank_batches(lengths, cfg.ttt_doc_batch)
        flops = {w: ttt_flops(model, cfg, w, memo) for w in tg.ttt_widths(cfg)}
        adapters = adapter_params(model, cfg) * cfg.ttt_doc_batch
        rate = PEAK_FLOPS * mfu * TTT_MFU_FRACTION
        per_rank = []
        for mine in longest:
            sched = ttt_schedule(mine, cfg)
            work = sum(k * cfg.ttt_doc_batch * (flops[w][0] + learn * flops[w][1]) for (w, learn), k in sched.items())
            learns = sum(k for (_, learn), k in sched.items() if learn)
            memory = (learns * ADAPTER_BYTES + len(mine) * 8) * adapters  # + attach_lora's A and B per batch
            per_rank.append((work / rate + memory / HBM_BW, sum(sched.values()), learns))
        out["ttt_s"], out["steps_per_rank"], out["learn_steps"] = max(per_rank)
        out.update(flops=flops, ttt_mfu=mfu * TTT_MFU_FRACTION)
    out["eval_s"] = out["compile_s"] + out["roundtrip_s"] + out["sliding_s"] + out["ttt_s"]
    return out


def eval_lines(cfg: tg.Hyperparameters, model: tg.GPT, mfu: float) -> list[str]:
    lengths, targets_from, lengths_from = doc_lengths(cfg)
    longest, memo = rank_batches(lengths, cfg.ttt_doc_batch) if cfg.ttt == "doc" else None, {}
    e = eval_projection(cfg, model, mfu, lengths, longest, memo)
    lines = [f"plan eval_s:{e['eval_s']:.1f} limit_s:{BUDGET_S:.0f} target_s:{EVAL_TARGET_S:.0f} "
             f"margin_s:{EVAL_TARGET_S - e['eval_s']:.1f} compile_s:{e['compile_s']:.0f} "
             f"roundtrip_s:{e['roundtrip_s']:.1f} sliding_s:{e['sliding_s']:.1f} ttt_s:{e['ttt_s']:.1f}",
             f"plan eval_data targets:{sum(lengths)} docs:{len(lengths)} targets_from:{targets_from} "
             f"lengths_from:{lengths_from} roundtrip_mfu:{mfu:.3f}"]
    if cfg.ttt == "doc":
        lines.append(f"plan eval_ttt chunk:{cfg.ttt_doc_chunk} widths:{','.join(map(str, tg.ttt_widths(cfg)))} "
                     f"rows:{cfg.ttt_doc_batch} steps_per_rank:{e['steps_per_rank']} learn_steps:{e['learn_steps']} "
                     f"mfu:{e['ttt_mfu']:.3f}")
        lines.append("plan eval_ttt_gflop_per_row " + " ".join(f"width_{w}:{f / 1e9:.2f}+{b / 1e9:.2f}"
                                                             for w, (f, b) in e["flops"].items()))
        seconds = {}
        for chunk in (c for c in EVAL_CHUNKS if c <= cfg.eval_seq_len):
            seconds[chunk] = eval_projection(dataclasses.replace(cfg, ttt_doc_chunk=chunk), model, mfu, lengths,
                                             longest, memo)["eval_s"]
        fits = ",".join(str(c) for c, s in seconds.items() if s <= EVAL_TARGET_S) or "none"
        lines.append("plan eval_chunks " + " ".join(f"{c}:{s:.1f}" for c, s in seconds.items()) + f" fit_560:{fits}")
    return lines


# ---- Rows and lines -------------------------------------------------------------------------------------


EXPLANATION = """\
How to read this (tools/plan.py --help for the method and the sources):
  flops_per_token_*: matmul FLOPs per token counted by FlopCounterMode on the meta device (train = forward + backward).
  memory_mib_per_gpu: saved activations of one micro-batch (bf16 autocast emulated; activation_mib_fp32: all at fp32)
    + fp32 parameters, gradients and optimizer state; eager autograd, so torch.compile runs usually need less.
  mfu: an anchor's model FLOPs per second over 8 x 989 TFLOP/s at its published step time; the configured row
    projects its step time over the two anchors' MFUs (low = the higher MFU). extrapolated:yes means the step's
    FLOPs lie outside the anchors'. The ternary_record row is that record's shape in our code.
  plan step: the configured step (all passes) as a sum of components, each from its own assumption; compare the
    total with flop_mfu_ms. plan eval_s: the evaluation on 8xH100 with compile; it must stay under 560 s."""


def record_step_ms(facts: dict, anchors: dict) -> float | None:
    """The ternary record's published step when the configured step has its FLOPs (its shape), else None."""
    same = facts["step_flops"] == anchors["ternary_record"][1]["step_flops"]
    return ANCHORS["ternary_record"]["measured_ms"] if same else None


def plan_rows(env) -> list[str]:
    cfg = tg.Hyperparameters.from_env(env=env, cuda=True)
    facts = measure(cfg)
    anchors = anchor_mfus()
    mfus = [f["mfu"] for _, f, _ in anchors.values()]
    anchor_flops = [f["step_flops"] for _, f, _ in anchors.values()]
    outside = not min(anchor_flops) <= facts["step_flops"] <= max(anchor_flops)
    rows = [row("configured", cfg, facts, mfus, [f"extrapolated:{'yes' if outside else 'no'}", f"profile:{cfg.config_profile}"])]
    for name, (acfg, afacts, missing) in anchors.items():
        extra = [f"measured_step_ms_8xh100:{ANCHORS[name]['measured_ms']}", f"source:{ANCHORS[name]['source']}"]
        rows.append(row(name, acfg, afacts, mfus, extra + ([missing] if missing else [])))
    budgets = {p: step_budget(step_shape(cfg, facts, p)) for p in range(1, cfg.loops + 1)}
    flop_ms = {p: (step_ms(f, max(mfus)), step_ms(f, min(mfus))) for p, f in facts["step_flops_passes"].items()}
    rows += step_lines(budgets[cfg.loops], record_step_ms(facts, anchors), flop_ms[cfg.loops])
    steps = steps_in_600s(cfg, {p: budget_total(b) / 1000 for p, b in budgets.items()})
    ns = [newton_schulz_ms(facts["model"], cfg, cfg.muon_backend_steps, c) for c in (False, True)]
    gain = (ns[0] - ns[1]) * steps / 1000
    rows.append(f"plan newton_schulz eager_ms:{ns[0]:.2f} compiled_ms:{ns[1]:.2f} gain_s_per_run:{gain:.1f} "
                f"compile_s:{NS_COMPILE_S:.0f} decision:{'compile' if gain > NS_COMPILE_S else 'eager'}")
    for p, a, _ in loop_phases(cfg):
        rows.append(f"plan loop passes:{p} from:{a:.2f} step_ms:{span(*flop_ms[p])} components_ms:{budget_total(budgets[p]):.2f}")
    rows.append(f"plan loop_steps_600s:{steps_in_budget(facts, cfg, min(mfus))}-{steps_in_budget(facts, cfg, max(mfus))} "
                f"components:{steps}")
    return rows + eval_lines(cfg, facts["flop_model"], eval_mfu(anchors))


def main(argv=None, env=None) -> int:
    parser = argparse.ArgumentParser(prog="tools/plan.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(argv)
    try:
        rows = plan_rows(os.environ if env is None else env)
    except tg.RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.status
    print("\n".join(rows))
    print()
    print(EXPLANATION)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `| head` closed the pipe: not an error of the plan
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
