"""The import stage of tools/gpu_check.sh: can this machine run train_gpt.py, and can it compile?

    python3 tools/import_check.py                    # imports, versions, the compile checks and one compile on the device
    python3 tools/import_check.py --no-probe         # the same without compiling (compile:off reason:asked)
    python3 tools/import_check.py --probe-timeout 60 # seconds the compile probe may take (default 60)

Prints two lines:
  import_check python:<v> torch:<v> cuda:<v> cuda_available:<bool> gpus:<n> gpu:<name|none> zstandard:<v> sentencepiece:<v>
  compile_check device:<cuda|cpu> cc:<path|none> python_h:<yes|no> triton:<version|none> probe:<ok|fail|timeout|skipped>
                probe_s:<f> compile:<on|off> reason:<none|asked|no_c_compiler|no_python_h|no_triton|probe_failed|probe_timeout>
                [error:<the probe's last error line, no spaces>]
The compile checks: a working C compiler ($CC, else cc, gcc or clang, answering --version; triton builds its
launcher with it), Python.h (the same), `import triton` (needed on CUDA only: the CPU's inductor writes C++),
then the probe: a tiny function compiled by torch.compile (inductor, fullgraph) and run on the device, in a
child process under its own time limit. The probe decides: compile:on if it ran, else off with the first
check that failed as the reason (probe_failed or probe_timeout if none did). Exit status 1 only if the imports
fail (then no compile_check line); a broken compiler is reported, not an error.
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import sys, torch
device = sys.argv[1]
f = torch.compile(lambda x: torch.sin(x) * 2 + 1, backend="inductor", fullgraph=True, dynamic=False)
x = torch.arange(64, dtype=torch.float32, device=device)
assert torch.allclose(f(x), torch.sin(x) * 2 + 1)
print("probe ok")
"""


def field(text: str) -> str:
    """One log field: no spaces, at most 160 characters."""
    return "_".join(text.split())[:160] or "unknown"


def c_compiler() -> str | None:
    """The C compiler triton would use, if it answers --version."""
    cc = os.environ.get("CC") or next((p for p in map(shutil.which, ("cc", "gcc", "clang")) if p), None)
    if not cc:
        return None
    try:
        ok = subprocess.run([cc, "--version"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return cc if ok else None


def probe(device: str, timeout: float) -> tuple[str, float, str]:
    """(ok|fail|timeout, seconds, the last error line) of one compile on the device, in a child process."""
    t = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", PROBE, device], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - t, f"over {timeout:.0f} s"
    seconds = time.perf_counter() - t
    if done.returncode == 0 and "probe ok" in done.stdout:
        return "ok", seconds, ""
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "error" in line]
    return "fail", seconds, (errors or lines or [f"exit status {done.returncode}"])[-1]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--no-probe", action="store_true", help="do not compile: compile:off reason:asked")
    p.add_argument("--probe-timeout", type=float, default=60.0, help="seconds the compile probe may take (default 60)")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import sentencepiece
    import torch
    import train_gpt  # noqa: F401
    import zstandard

    cuda = torch.cuda.is_available()
    gpu = torch.cuda.get_device_name(0).replace(" ", "_") if cuda else "none"
    print(f"import_check python:{platform.python_version()} torch:{torch.__version__} cuda:{torch.version.cuda} "
          f"cuda_available:{cuda} gpus:{torch.cuda.device_count()} gpu:{gpu} zstandard:{zstandard.__version__} "
          f"sentencepiece:{sentencepiece.__version__}", flush=True)

    device = "cuda" if cuda else "cpu"
    cc = c_compiler()
    python_h = (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file()
    try:
        import triton
        triton_version = triton.__version__
    except Exception:
        triton_version = None
    failed = [name for name, bad in (("no_c_compiler", cc is None), ("no_python_h", not python_h),
                                     ("no_triton", cuda and triton_version is None)) if bad]
    if args.no_probe:
        status, seconds, error, reason = "skipped", 0.0, "", "asked"
    else:
        status, seconds, error = probe(device, args.probe_timeout)
        reason = "none" if status == "ok" else (failed or [f"probe_{status}" if status == "timeout" else "probe_failed"])[0]
    print(f"compile_check device:{device} cc:{cc or 'none'} python_h:{'yes' if python_h else 'no'} triton:{triton_version or 'none'} "
          f"probe:{status} probe_s:{seconds:.1f} compile:{'on' if status == 'ok' else 'off'} reason:{reason}"
          + (f" error:{field(error)}" if error else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
