"""The GPU's code path rehearsed on CPU: compile (fullgraph), bf16 autocast, fused AdamW, bf16 Newton-Schulz
and Muon exchange, 2 accumulation micro-steps, both late switches, export, reload, sliding windows and doc
TTT, in the real script.

What it proves: the graphs capture whole (fullgraph), every shape and switch is compiled before the timers
(no recompile in timed training or in the TTT loop; dynamo's guards decide recompiles, whatever the backend),
and compiled runs agree with eager ones. What it cannot: the backend is aot_eager (the same captured graphs
and AOT autograd, without inductor's kernels, which take about 20 s a graph on 2 cores; test_ternary compiles
the QAT forward with inductor); CPU autocast differs from CUDA's (rms_norm of bf16 stays bf16 on CPU and is fp32
on CUDA; CPU runs no flash SDPA kernel, no NCCL, no CUDA fused AdamW); nothing here measures speed or memory."""

from conftest import log_values, run_script

GPU_PATH = {"COMPILE_BACKEND": "aot_eager", "AUTOCAST": "bf16", "FUSED_ADAM": "1", "MUON_DTYPE": "bf16", "SDPA_BACKEND": "math",
            "GRAD_ACCUM_STEPS": "2", "COMPILE_WARMUP_STEPS": "4", "QAT_START_FRAC": "0.5", "LOOP_START_FRAC": "0.5",
            "NUM_LAYERS": "2", "PRELUDE_LAYERS": "0", "CODA_LAYERS": "1", "LOOPS": "2",
            "EMBED_DIM": "16", "UNET_SKIPS": "1", "MUON_ROW_NORM": "1", "MUON_BACKEND_STEPS": "3",
            "TTT": "doc", "TTT_DOC_CHUNK": "8", "TTT_DOC_BATCH": "4", "TORCH_LOGS": "recompiles", "PYTHONUNBUFFERED": "1"}
RECOMPILE = "Recompiling function"


def recompiles_between(text: str, start: str, end: str) -> list[str]:
    lines = text.splitlines()
    a = next(i for i, line in enumerate(lines) if line.startswith(start))
    b = next(i for i, line in enumerate(lines) if line.startswith(end) and i > a)
    return [line for line in lines[a:b] if RECOMPILE in line]


def test_the_compiled_gpu_path_never_recompiles_in_a_timed_loop_and_matches_eager(sample_env, tmp_path):
    runs = {}
    for compiled in ("1", "0"):
        done = run_script({**sample_env, **GPU_PATH, "COMPILE": compiled, "RUN_ID": f"c{compiled}"}, tmp_path, stderr_to_stdout=True)
        assert done.returncode == 0, done.stdout[-4000:]
        runs[compiled] = done.stdout
    out = runs["1"]
    assert "attention backend:math" in out and "loops_on step:3" in out and "qat_on step:3" in out
    assert "compile:True" in out and any(RECOMPILE in line for line in out.splitlines())  # it did compile, and say so
    assert recompiles_between(out, "compile_warmup", "artifact path:") == []  # the timed training loop
    assert recompiles_between(out, "eval_compile", "eval_total") == []  # roundtrip, sliding and every doc TTT batch
    # Tolerance: the same ops in bf16 except where AOT autograd decomposes them, so the losses agree
    # to bf16 rounding (about 3 significant digits) over 6 steps and one evaluation.
    compiled, eager = log_values(out, "step:", "train_loss"), log_values(runs["0"], "step:", "train_loss")
    assert len(compiled) == len(eager) == 6 and all(abs(a - b) < 0.03 for a, b in zip(compiled, eager)), (compiled, eager)
    for phase in ("final_roundtrip", "final_sliding", "final_ttt"):
        a, b = log_values(out, phase, "val_bpb")[0], log_values(runs["0"], phase, "val_bpb")[0]
        assert abs(a - b) < 0.03, (phase, a, b)
