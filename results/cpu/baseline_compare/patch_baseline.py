"""Write a CPU-runnable copy of the challenge baseline's train_gpt.py (github.com/openai/parameter-golf).

    python patch_baseline.py BASELINE_TRAIN_GPT OUT [bf16|fp32]

Exact text substitutions, each with its expected count; any text not found that many times stops with an
error, so a changed upstream file fails loudly instead of running half-patched. Only what a CPU needs is
touched: the model, optimizers (except `fused`), quantization, schedule and evaluation are the baseline's.
The copy runs as one process (RANK/WORLD_SIZE unset: the baseline then starts no process group); its
distributed path (NCCL, DDP on a GPU) is left as it is and is not for CPU.
"""
import sys
from pathlib import Path

SUBSTITUTIONS = [  # (old, new, expected count, why)
    ("    zeropower_via_newtonschulz5 = torch.compile(zeropower_via_newtonschulz5)\n",
     "    # cpu patch: Newton-Schulz not compiled\n", 1,
     "no torch.compile on CPU"),
    ('    if not torch.cuda.is_available():\n        raise RuntimeError("CUDA is required")\n'
     '    device = torch.device("cuda", local_rank)\n    torch.cuda.set_device(device)\n',
     '    device = torch.device("cpu")  # cpu patch\n', 1,
     "the device is the CPU, not a CUDA device"),
    ('        subprocess.run(["nvidia-smi"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False).stdout,\n',
     '        "nvidia-smi: not run (cpu patch)",\n', 1,
     "no nvidia-smi on a CPU machine (subprocess.run raises FileNotFoundError)"),
    ("    torch.cuda.manual_seed_all(args.seed)\n",
     "    # cpu patch: no CUDA seeding\n", 1,
     "no CUDA seeding"),
    ("    compiled_model = torch.compile(base_model, dynamic=False, fullgraph=True)\n",
     "    compiled_model = base_model  # cpu patch: not compiled\n", 1,
     "no torch.compile on CPU"),
    ("        fused=True,\n",
     "        fused=False,  # cpu patch\n", 3,
     "no fused Adam"),
    ('torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=True)',
     'torch.autocast(device_type="cpu", dtype=torch.bfloat16, enabled=True)', 3,
     'bf16 autocast on CPU (device_type="cuda" is silently disabled without CUDA: the forward would be fp32)'),
    ("torch.cuda.synchronize()\n",
     "pass  # cpu patch: no CUDA sync\n", 5,
     "no CUDA synchronization"),
]

FP32_SUBSTITUTIONS = [  # fp32 only: the baseline's own bf16 casts, which a CPU without bf16 units emulates ~90x slower
    ("    X = G.bfloat16()\n", "    X = G.float()  # cpu patch (fp32)\n", 1, "Newton-Schulz in fp32"),
    ("updates_flat = torch.zeros(total_params, device=params[0].device, dtype=torch.bfloat16)",
     "updates_flat = torch.zeros(total_params, device=params[0].device, dtype=torch.float32)", 1, "Muon's update buffer"),
    ("    ).to(device).bfloat16()\n", "    ).to(device)  # cpu patch (fp32)\n", 1, "the model stays fp32"),
]


def patch(text: str, precision: str = "bf16") -> str:
    for old, new, count, why in SUBSTITUTIONS + (FP32_SUBSTITUTIONS if precision == "fp32" else []):
        if precision == "fp32" and "autocast" in old:  # fp32: the CUDA autocast stays, which a CPU disables
            new = old
        found = text.count(old)
        if found != count:
            sys.exit(f"patch_baseline: expected {count} occurrence(s), found {found}, of:\n{old}\n({why})")
        text = text.replace(old, new)
    return text


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4) or sys.argv[3:] not in ([], ["bf16"], ["fp32"]):
        sys.exit(__doc__)
    src, out, precision = Path(sys.argv[1]), Path(sys.argv[2]), (sys.argv[3:] or ["bf16"])[0]
    out.write_text(patch(src.read_text(encoding="utf-8"), precision), encoding="utf-8")
    n = len(SUBSTITUTIONS) + (len(FP32_SUBSTITUTIONS) if precision == "fp32" else 0)
    print(f"patch_baseline: {src} -> {out}, {n} substitutions, {precision}")
