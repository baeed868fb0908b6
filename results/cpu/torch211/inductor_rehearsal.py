"""One-off: tests/test_rehearsal.py's GPU-path configuration with COMPILE_BACKEND=inductor (the GPU's backend;
the test uses aot_eager to stay fast), under whatever torch runs this. Usage: python inductor_rehearsal.py WORKDIR"""
import sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
import conftest
from test_rehearsal import GPU_PATH, recompiles_between
tmp = Path(sys.argv[1]); tmp.mkdir(parents=True, exist_ok=True)
env = {**conftest.sample_run_env(tmp), **GPU_PATH, "RUN_ID": "ind", "COMPILE": "1", "COMPILE_BACKEND": "inductor"}
t = time.time()
done = conftest.run_script(env, tmp, timeout=1500, stderr_to_stdout=True)
(tmp / "log.txt").write_text(done.stdout)
print("rc", done.returncode, "wall_s", round(time.time() - t))
print("recompiles in training:", len(recompiles_between(done.stdout, "compile_warmup", "artifact path:")))
print("recompiles in evaluation:", len(recompiles_between(done.stdout, "eval_compile", "eval_total")))
for line in done.stdout.splitlines():
    if line.startswith(("step:", "final", "eval_compile", "compile_warmup", "torch", "device", "attention")): print(line[:200])
