"""Plans a configuration before paying for it: size, FLOPs, memory and projected 8xH100 step time.

    python tools/plan.py                                   # the competition configuration
    NUM_LAYERS=12 MODEL_DIM=640 python tools/plan.py       # any train_gpt.py variables

Reads the same environment variables as train_gpt.py (competition profile unless CONFIG_PROFILE
says otherwise), builds the model on the meta device and runs in seconds on a CPU. It prints one
`plan name:<configured|baseline|ternary_record> key:value ...` line per configuration, configured
first, then a short explanation. Bad variables print `error: <message>` and exit 2.

What is computed, and how:
- params_stored / params_effective: train_gpt.count_params (effective counts shared blocks once per loop).
- bytes_estimate: train_gpt.estimate_artifact_bytes, the packed size before zstd plus framing: an
  upper bound on the artifact in train_gpt's format; bytes_smallest: the same at the fewest bits the
  export's auto-fit may use (train_gpt.py trains only when it is under ARTIFACT_LIMIT).
- flops_per_token_train / _eval: torch.utils.flop_counter.FlopCounterMode over one sequence on the
  meta device (train: forward + backward at TRAIN_SEQ_LEN with all loops on; eval: forward at
  EVAL_SEQ_LEN). It counts matrix multiplications only (linears, the head, attention's QK^T and AV)
  and counts attention as if unmasked (causal masking is not discounted), as FlopCounterMode does.
- memory_mib_per_gpu: tensors saved for backward by one micro-batch forward (saved_tensors_hooks on
  the meta device), plus fp32 parameters, gradients and optimizer state (Muon: 1 buffer per matrix,
  Adam: 2 per other parameter). The meta device cannot run autocast, so bf16 autocast is emulated:
  the inputs of linears, matmuls and attention are cast to bf16 (the ops CUDA autocast runs in
  bf16), everything else keeps PyTorch's type promotion (the fp32 residual stream stays fp32).
  Attention saves what a fused kernel saves (q, k, v, output, fp32 log-sum-exp), not the T x T
  matrix of the math fallback. It is eager autograd: torch.compile usually saves less, and the
  allocator's fragmentation, workspaces and the optimizer's temporaries are not counted.
  activation_mib_fp32 counts the same saved tensors at 4 bytes an element (no autocast at all).
- projected_step_ms_8xh100: FLOPs of one optimizer step / (8 x 989e12 x MFU), over the MFUs of two
  anchors, computed from their published 8xH100 step times with this script's own FLOP count of
  their shape: low = at the higher anchor MFU, high = at the lower. MFU here is "model FLOPs
  utilisation": it absorbs the optimizer, communication and kernel efficiency of each anchor's code.
  projected_steps_600s = floor(600 s / step time); with LOOPS > 1 the first LOOP_START_FRAC of the
  wall clock runs the shared blocks once, at its own (cheaper) step time.

Facts used (repository paths are in github.com/openai/parameter-golf):
- baseline: records/track_10min_16mb/2026-03-17_NaiveBaseline/README.md: VOCAB_SIZE=1024
  NUM_LAYERS=9 MODEL_DIM=512 NUM_HEADS=8 NUM_KV_HEADS=4 MLP_MULT=2, tied embeddings,
  TRAIN_BATCH_TOKENS=524288 TRAIN_SEQ_LEN=1024 on 8xH100, `step_avg:43.54ms` (train.log there).
- ternary_record: records/track_10min_16mb/2026-03-24_74M_Ternary_UNet_FP8_10L_8192BPE_YaRN_NeoMuon/
  README.md: 10 layers, dim 768, 8 heads / 4 KV heads, 4x relu^2 MLP, ternary (group 128),
  factored tied embedding 8192 x 254 (EMBED_DIM=254), VOCAB_SIZE=8192, TRAIN_BATCH_TOKENS=524288,
  TRAIN_SEQ_LEN=1024, 91.8 ms per step (3-seed mean, 8xH100 SXM), with U-Net skips; our row has them
  too (UNET_SKIPS=1) and its factored embedding (EMBED_DIM; a train_gpt without it: the row says so).
- H100 SXM peak: NVIDIA's H100 Tensor Core GPU datasheet lists BF16 Tensor Core 1,979 TFLOPS for the
  SXM part "with sparsity"; dense is half, 989 TFLOPS per GPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import train_gpt as tg  # noqa: E402

GPUS = 8
PEAK_FLOPS = 989e12  # H100 SXM bf16 dense, per GPU (datasheet: 1,979 TFLOPS with sparsity)
BUDGET_S = 600.0  # the challenge's training wall clock
MIB = 2**20
RECORDS = "openai/parameter-golf:records/track_10min_16mb/"

# Shapes of the two anchors; everything not listed is train_gpt's competition default.
ANCHOR_COMMON = {"CONFIG_PROFILE": "competition", "TRAIN_SEQ_LEN": "1024", "TRAIN_BATCH_TOKENS": "524288",
          "TIE_EMBEDDINGS": "1", "LOOPS": "1", "PRELUDE_LAYERS": "0", "CODA_LAYERS": "0"}
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


def tokens(batch: int, seq_len: int) -> torch.Tensor:
    return torch.zeros(batch, seq_len, dtype=torch.long, device="meta")


def set_train_loops(model: tg.GPT, loops: int) -> bool:
    """train_gpt runs the shared blocks once before LOOP_START_FRAC; False if the model has no such switch."""
    if not hasattr(model, "train_loops"):
        return False
    model.train_loops = loops
    return True


def train_flops(model: tg.GPT, seq_len: int) -> tuple[float, bool]:
    """(forward + backward FLOPs per token, whether the backward was counted). If the backward cannot
    run on meta tensors it is taken as 2x the forward's matmul FLOPs (each matmul's backward is two
    matmuls of its size)."""
    x = tokens(1, seq_len)
    try:
        counter = FlopCounterMode(display=False)
        with counter:
            objective, _ = model(x, x)
            objective.backward()
        return counter.get_total_flops() / seq_len, True
    except (RuntimeError, NotImplementedError):
        counter = FlopCounterMode(display=False)
        with counter:
            model(x, x)
        return 3 * counter.get_total_flops() / seq_len, False
    finally:
        model.zero_grad(set_to_none=True)


def eval_flops(model: tg.GPT, seq_len: int) -> float:
    """Forward FLOPs per token of one evaluation window (logits only, as the evaluation calls)."""
    x = tokens(1, seq_len)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model.logits(x) if hasattr(model, "logits") else model(x, x)
    return counter.get_total_flops() / seq_len


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


def saved_bytes(model: tg.GPT, batch: int, seq_len: int) -> tuple[int, int]:
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
        model(x, x)
    stored = [t.untyped_storage().nbytes() for t in saved.values()]
    fp32 = [n // t.element_size() * 4 if t.is_floating_point() else n for n, t in zip(stored, saved.values())]
    return sum(stored), sum(fp32)


def activation_bytes(model: tg.GPT, seqs: int, seq_len: int) -> tuple[int, int]:
    """saved_bytes at `seqs` sequences, from meta forwards at 1 and 2 (it is linear in the batch)."""
    one, two = saved_bytes(model, 1, seq_len), saved_bytes(model, 2, seq_len)
    return tuple(a + (seqs - 1) * (b - a) for a, b in zip(one, two))


def state_bytes(model: tg.GPT) -> int:
    """Parameters + gradients + optimizer state (Muon momentum for matrices, Adam's two moments otherwise)."""
    params = list(model.parameters())
    total = sum(2 * p.numel() * p.element_size() for p in params)
    try:
        muon = {id(p) for p in tg.param_groups(model)["muon"]}
    except (AttributeError, KeyError, TypeError):
        muon = set()  # unknown split: every parameter as Adam, an upper bound
    return total + sum((1 if id(p) in muon else 2) * p.numel() * 4 for p in params)


def micro_batch(cfg: tg.Hyperparameters) -> tuple[int, int]:
    """(grad_accum, sequences per GPU per micro-step) on 8 GPUs, as train_gpt computes them."""
    accum = tg.grad_accum_steps(cfg, SimpleNamespace(world=GPUS, rank=0, device=torch.device("cuda")))
    return accum, cfg.train_batch_tokens // (GPUS * accum * cfg.train_seq_len)


def measure(cfg: tg.Hyperparameters) -> dict:
    """Every figure of one configuration that does not depend on the anchors."""
    accum, seqs = micro_batch(cfg)
    model = meta_model(cfg)
    stored, effective = tg.count_params(model, cfg)
    facts = dict(params_stored=stored, params_effective=effective, bytes_estimate=tg.estimate_artifact_bytes(cfg),
                 bytes_smallest=tg.estimate_artifact_bytes(cfg, *tg.shrink_plan(cfg)[-1]))
    set_train_loops(model, cfg.loops)
    facts["flops_per_token_train"], counted = train_flops(model, cfg.train_seq_len)
    facts["flops_per_token_train_one_loop"] = facts["flops_per_token_train"]
    if cfg.loops > 1 and set_train_loops(model, 1):
        facts["flops_per_token_train_one_loop"], _ = train_flops(model, cfg.train_seq_len)
        set_train_loops(model, cfg.loops)
    facts["flops_per_token_eval"] = eval_flops(model, cfg.eval_seq_len)
    act, act_fp32 = activation_bytes(model, seqs, cfg.train_seq_len)
    state = state_bytes(model)
    facts.update(
        backward="counted" if counted else "estimated_2x_forward", grad_accum=accum,
        micro_batch_tokens_per_gpu=seqs * cfg.train_seq_len, activation_mib=act / MIB,
        activation_mib_fp32=act_fp32 / MIB,
        state_mib=state / MIB, memory_mib_per_gpu=(act + state) / MIB,
        step_flops=facts["flops_per_token_train"] * cfg.train_batch_tokens,
        step_flops_one_loop=facts["flops_per_token_train_one_loop"] * cfg.train_batch_tokens,
    )
    return facts


def step_ms(flops: float, mfu: float) -> float:
    return 1000 * flops / (GPUS * PEAK_FLOPS * mfu)


def steps_in_budget(facts: dict, cfg: tg.Hyperparameters, mfu: float) -> int:
    full_s = step_ms(facts["step_flops"], mfu) / 1000
    if cfg.loops == 1:
        return math.floor(BUDGET_S / full_s)
    one_s = step_ms(facts["step_flops_one_loop"], mfu) / 1000
    frac = cfg.loop_start_frac
    return math.floor(frac * BUDGET_S / one_s + (1 - frac) * BUDGET_S / full_s)


def anchor_mfus() -> dict[str, tuple[tg.Hyperparameters, dict, str]]:
    out = {}
    for name, a in ANCHORS.items():
        cfg, missing = anchor_cfg(name)
        facts = measure(cfg)
        facts["mfu"] = 1000 * facts["step_flops"] / (GPUS * PEAK_FLOPS * a["measured_ms"])
        out[name] = (cfg, facts, missing)
    return out


def row(name: str, cfg: tg.Hyperparameters, facts: dict, mfus: list[float], extra: list[str]) -> str:
    """One grep-parsable line; `extra` holds further `key:value` parts."""
    fast, slow = max(mfus), min(mfus)  # the higher MFU gives the shorter step
    shape = f"{cfg.num_layers}x{cfg.model_dim}" + (f"_loops{cfg.loops}" if cfg.loops > 1 else "")
    parts = [
        f"plan name:{name}", f"shape:{shape}", f"vocab:{cfg.vocab_size}", f"seq_len:{cfg.train_seq_len}",
        f"ternary:{','.join(sorted(cfg.ternary_kinds)) or 'none'}",
        f"params_stored:{facts['params_stored']}", f"params_effective:{facts['params_effective']}",
        f"bytes_estimate:{facts['bytes_estimate']}", f"bytes_smallest:{facts['bytes_smallest']}",
        f"flops_per_token_train:{facts['flops_per_token_train']:.0f}", f"flops_per_token_eval:{facts['flops_per_token_eval']:.0f}",
        f"backward:{facts['backward']}", f"tokens_per_step:{cfg.train_batch_tokens}", f"grad_accum:{facts['grad_accum']}",
        f"micro_batch_tokens_per_gpu:{facts['micro_batch_tokens_per_gpu']}",
        f"memory_mib_per_gpu:{facts['memory_mib_per_gpu']:.0f}", f"activation_mib:{facts['activation_mib']:.0f}",
        f"activation_mib_fp32:{facts['activation_mib_fp32']:.0f}", f"state_mib:{facts['state_mib']:.0f}",
        f"mfu:{facts['mfu']:.4f}" if "mfu" in facts else f"mfu:{slow:.4f}-{fast:.4f}",
        f"projected_step_ms_8xh100:{step_ms(facts['step_flops'], fast):.2f}-{step_ms(facts['step_flops'], slow):.2f}",
        f"projected_steps_600s:{steps_in_budget(facts, cfg, slow)}-{steps_in_budget(facts, cfg, fast)}",
    ]
    if cfg.loops > 1:
        one = facts["step_flops_one_loop"]
        parts.append(f"projected_step_ms_8xh100_one_loop:{step_ms(one, fast):.2f}-{step_ms(one, slow):.2f}")
    return " ".join(parts + extra)


EXPLANATION = """\
How to read this (tools/plan.py --help for the method):
  flops_per_token_*: matmul FLOPs per token counted by FlopCounterMode on the meta device (train = forward + backward).
  memory_mib_per_gpu: saved activations of one micro-batch (bf16 autocast emulated; activation_mib_fp32: all at fp32)
    + fp32 parameters, gradients and optimizer state; eager autograd, so torch.compile runs usually need less.
  mfu: an anchor's model FLOPs per second over 8 x 989 TFLOP/s at its published step time; the configured row
    projects its step time over the two anchors' MFUs (low = the higher MFU). The anchors differ in size, kernels
    and optimizer; extrapolated:yes means the step's FLOPs lie outside the anchors' (tiny models are latency-bound,
    so their projection is far too fast). The ternary_record row is that record's shape in our code (factored
    embedding, U-Net skips; its code's kernels and fp8 side tensors differ), so its bytes are ours, not the record's."""


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
    return rows


def main(argv=None, env=None) -> int:
    parser = argparse.ArgumentParser(prog="tools/plan.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
