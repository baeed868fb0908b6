"""Attention micro-benchmark: which kernel would be fastest at the competition's per-GPU attention shape.

    python3 tools/attn_bench.py               # CUDA: bf16, batch 64 x 1024 tokens, 8 query / 4 key-value heads of size 96
    python3 tools/attn_bench.py --cpu         # the same lines at a tiny shape on CPU (a rehearsal, not a measurement)
    python3 tools/attn_bench.py --seconds 20  # the deadline (default 20), counted from the start of this process

The shape is one micro-step of one GPU of the competition defaults (TRAIN_BATCH_TOKENS 524288 over 8 GPUs,
TRAIN_SEQ_LEN 1024, MODEL_DIM 768, NUM_HEADS 8, NUM_KV_HEADS 4), causal, with q, k, v laid out as
train_gpt.py makes them ((batch, heads, seq, head) views of (batch, seq, heads, head) tensors). Each kernel is
timed forward alone and forward + backward (median of a few calls after a warm-up, CUDA events on a GPU):
  sdpa_flash, sdpa_cudnn, sdpa_efficient  torch's SDPA pinned to one backend (torch.nn.attention.sdpa_kernel),
                 grouped-query attention through enable_gqa, or with k and v expanded to 8 heads where the
                 backend refuses it (gqa:expanded)
  fa3            flash_attn_interface.flash_attn_func (FlashAttention-3, Hopper), if it imports
  fa4            flash_attn.cute.flash_attn_func (FlashAttention-4, PyPI flash-attn-4), if it imports
A kernel that cannot run here (not installed, refused by the device, or less than 2 s left before the deadline,
10 s for fa4, whose first call compiles) is reported as unavailable with the reason; that is not a failure. It also times train_gpt.newton_schulz (eager) on the
competition's largest Muon matrix, 768 x 3072 (the MLP's), in bf16: one step, and MUON_BACKEND_STEPS' 3.
Exit status: 0, also when kernels are unavailable; 1 only if this script itself breaks.

Log lines (stdout), then a table of the same figures:
  attn_bench device:<cuda|cpu> gpu:<name|none> torch:<version> dtype:<bf16> batch:<n> seq:<n> q_heads:<n> kv_heads:<n> head_dim:<n> causal:true
  attn_bench kernel:<name> fwd_ms:<f> fwd_bwd_ms:<f> status:ok gqa:<native|expanded>
  attn_bench kernel:<name> status:unavailable reason:<why, no spaces>
  attn_bench newton_schulz shape:<rows>x<cols> steps:<n> ms:<f>
  attn_bench fastest:<name|none> fwd_bwd_ms:<f> current:<train_gpt.py's kernel, sdpa_flash> current_fwd_bwd_ms:<f|-> speedup:<current / fastest|->
  attn_bench done seconds:<f>
"""

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

START = time.perf_counter()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GPU_SHAPE = dict(batch=64, seq=1024, q_heads=8, kv_heads=4, head_dim=96)
CPU_SHAPE = dict(batch=2, seq=64, q_heads=2, kv_heads=1, head_dim=16)
NS_SHAPE = {"cuda": (768, 3072), "cpu": (64, 256)}
CURRENT = "sdpa_flash"  # train_gpt.py's SDPA_BACKEND on CUDA
MARGIN_S = {"fa4": 10}  # seconds a kernel needs left before the deadline to start (others: 2)
SDPA = {"sdpa_flash": SDPBackend.FLASH_ATTENTION, "sdpa_cudnn": SDPBackend.CUDNN_ATTENTION,
        "sdpa_efficient": SDPBackend.EFFICIENT_ATTENTION}


def reason(text: str) -> str:
    """One log field: the first line, no spaces, at most 160 characters."""
    return "_".join(str(text).strip().splitlines()[0].split())[:160] if str(text).strip() else "unknown"


def timer(device: str):
    """ms(fn, calls): the median milliseconds of fn over `calls` calls, after one warm-up call."""
    def ms(fn, calls: int) -> float:
        fn()
        times = []
        for _ in range(calls):
            if device == "cuda":
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(end))
            else:
                t = time.perf_counter()
                fn()
                times.append(1000 * (time.perf_counter() - t))
        return statistics.median(times)
    return ms


def inputs(shape: dict, device: str, layout: str):
    """q, k, v with gradients: `bhsd` as train_gpt.py makes them (transposed views), `bshd` for FlashAttention."""
    b, s, d = shape["batch"], shape["seq"], shape["head_dim"]
    out = []
    for h in (shape["q_heads"], shape["kv_heads"], shape["kv_heads"]):
        t = torch.randn(b, s, h, d, device=device, dtype=torch.bfloat16)
        out.append((t.transpose(1, 2) if layout == "bhsd" else t).detach().requires_grad_())
    return out


def sdpa_fn(backend, expand: bool, groups: int):
    def attend(q, k, v):
        if expand:
            k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        with sdpa_kernel(backend):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=not expand and groups > 1)
    return attend


def flash_fn(module: str):
    """FlashAttention-3 or -4's flash_attn_func (both take (batch, seq, heads, head) and grouped heads)."""
    if module == "fa3":
        from flash_attn_interface import flash_attn_func
    else:
        from flash_attn.cute import flash_attn_func

    def attend(q, k, v):
        out = flash_attn_func(q, k, v, causal=True)
        return out[0] if isinstance(out, tuple) else out
    return attend


def measure(attend, qkv, ms, calls: int) -> tuple[float, float]:
    def fwd():
        with torch.no_grad():
            attend(*qkv)

    def fwd_bwd():
        attend(*qkv).float().sum().backward()
    return ms(fwd, calls), ms(fwd_bwd, calls)


def try_kernel(name: str, shape: dict, device: str, ms, calls: int):
    """(fwd_ms, fwd_bwd_ms, gqa) or raises with the reason it cannot run."""
    groups = shape["q_heads"] // shape["kv_heads"]
    if name in SDPA:
        last = None
        for expand in (False, True):
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                try:
                    fwd, both = measure(sdpa_fn(SDPA[name], expand, groups), inputs(shape, device, "bhsd"), ms, calls)
                    return fwd, both, "expanded" if expand else "native"
                except RuntimeError as exc:  # SDPA says why through its warnings
                    why = [str(w.message) for w in seen if "because" in str(w.message)]
                    last = why[0] if why else ("no_viable_backend_here" if "No viable backend" in str(exc) else str(exc))
            if groups == 1:
                break
        raise RuntimeError(last)
    try:
        attend = flash_fn(name)
    except Exception as exc:  # an ImportError, or a build that does not load here
        raise RuntimeError(f"not_installed({type(exc).__name__}:{exc})") from None
    fwd, both = measure(attend, inputs(shape, device, "bshd"), ms, calls)
    return fwd, both, "native"


def main(argv=None, start: float = START) -> int:
    """`start`: where the deadline counts from (this process's start when run as a script)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cpu", action="store_true", help="a tiny shape on CPU (also chosen when no GPU is present)")
    p.add_argument("--seconds", type=float, default=20.0, help="deadline from the start of this process (default 20)")
    args = p.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() and not args.cpu else "cpu"
    shape = GPU_SHAPE if device == "cuda" else CPU_SHAPE
    calls = 10 if device == "cuda" else 3
    ms = timer(device)
    gpu = torch.cuda.get_device_name(0).replace(" ", "_") if device == "cuda" else "none"
    print(f"attn_bench device:{device} gpu:{gpu} torch:{torch.__version__} dtype:bf16 "
          + " ".join(f"{k}:{v}" for k, v in shape.items()) + " causal:true", flush=True)

    def deadline_left() -> float:
        return args.seconds - (time.perf_counter() - start)

    rows = []
    for name in (*SDPA, "fa3", "fa4"):
        # Each kernel costs about a second on the GPU, FlashAttention-4's first call compiles its kernels (CuTe DSL):
        # none starts with less than its margin left.
        if deadline_left() < MARGIN_S.get(name, 2):
            rows.append((name, None, None, "unavailable", "deadline"))
        else:
            try:
                fwd, both, gqa = try_kernel(name, shape, device, ms, calls)
                rows.append((name, fwd, both, "ok", gqa))
            except Exception as exc:
                rows.append((name, None, None, "unavailable", reason(exc)))
        name, fwd, both, status, extra = rows[-1]
        if status == "ok":
            print(f"attn_bench kernel:{name} fwd_ms:{fwd:.3f} fwd_bwd_ms:{both:.3f} status:ok gqa:{extra}", flush=True)
        else:
            print(f"attn_bench kernel:{name} status:unavailable reason:{extra}", flush=True)
        if device == "cuda":
            torch.cuda.empty_cache()

    import train_gpt  # the optimizer's own function
    ns = []
    rows_ns, cols_ns = NS_SHAPE[device]
    g = torch.randn(rows_ns, cols_ns, device=device, dtype=torch.float32)
    for steps in (1, 3):
        if deadline_left() < 1:
            print(f"attn_bench newton_schulz shape:{rows_ns}x{cols_ns} steps:{steps} status:unavailable reason:deadline")
            continue
        t = ms(lambda: train_gpt.newton_schulz(g, steps, torch.bfloat16), calls)
        ns.append((steps, t))
        print(f"attn_bench newton_schulz shape:{rows_ns}x{cols_ns} steps:{steps} ms:{t:.3f}", flush=True)

    ok = [r for r in rows if r[3] == "ok"]
    best = min(ok, key=lambda r: r[2]) if ok else None
    current = next((r for r in ok if r[0] == CURRENT), None)
    speedup = f"{current[2] / best[2]:.2f}" if best and current else "-"
    print(f"attn_bench fastest:{best[0] if best else 'none'} fwd_bwd_ms:{best[2] if best else 0:.3f} current:{CURRENT} "
          f"current_fwd_bwd_ms:{f'{current[2]:.3f}' if current else '-'} speedup:{speedup}")
    print(f"attn_bench done seconds:{time.perf_counter() - start:.1f}")
    print()
    print(f"| kernel ({device}, bf16, {shape['batch']}x{shape['seq']}, {shape['q_heads']}/{shape['kv_heads']} heads of "
          f"{shape['head_dim']}) | fwd ms | fwd+bwd ms | status |")
    print("|---|---|---|---|")
    for name, fwd, both, status, extra in rows:
        mark = " (fastest)" if best and name == best[0] else ""
        cells = f"{fwd:.3f} | {both:.3f} | ok, gqa {extra}" if status == "ok" else f"- | - | unavailable: {extra}"
        print(f"| {name}{mark} | {cells} |")
    print(f"\nfastest attention kernel: {best[0] if best else 'none'}"
          + (f" ({speedup}x the current {CURRENT})" if best and current else ""))
    if ns:
        print(f"newton_schulz {rows_ns}x{cols_ns} bf16 (eager): " + ", ".join(f"{steps} step{'s' * (steps > 1)} {t:.3f} ms" for steps, t in ns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
