"""tools/attn_bench.py: the attention micro-benchmark of tools/gpu_check.sh's bench stage, at its tiny CPU shape."""

import re
import sys
import time

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import attn_bench  # noqa: E402

KERNELS = ["sdpa_flash", "sdpa_cudnn", "sdpa_efficient", "fa3", "fa4"]


def lines(text: str, head: str) -> list[dict]:
    return [dict(f.split(":", 1) for f in line.split()[1:] if ":" in f) for line in text.splitlines() if line.startswith(head)]


def test_every_kernel_is_one_line_ok_or_unavailable_with_a_reason_and_the_table_names_the_fastest(capsys):
    assert attn_bench.main(["--cpu", "--seconds", "120"], start=time.perf_counter()) == 0
    out = capsys.readouterr().out
    (head,) = lines(out, "attn_bench device:")
    assert head["device"] == "cpu" and head["dtype"] == "bf16" and head["q_heads"] == "2" and head["causal"] == "true"
    kernels = lines(out, "attn_bench kernel:")
    assert [k["kernel"] for k in kernels] == KERNELS
    for k in kernels:
        if k["status"] == "ok":
            assert float(k["fwd_ms"]) > 0 and float(k["fwd_bwd_ms"]) > 0 and k["gqa"] in ("native", "expanded")
        else:
            assert k["status"] == "unavailable" and k["reason"] and "fwd_ms" not in k
    assert {k["kernel"]: k["status"] for k in kernels}["sdpa_flash"] == "ok"  # torch's CPU flash kernel
    assert all(k["reason"].startswith("not_installed(") for k in kernels[3:] if k["status"] != "ok")
    ns = lines(out, "attn_bench newton_schulz")
    assert [(n["shape"], n["steps"]) for n in ns] == [("64x256", "1"), ("64x256", "3")] and all(float(n["ms"]) > 0 for n in ns)
    (fastest,) = lines(out, "attn_bench fastest:")
    ok = {k["kernel"]: float(k["fwd_bwd_ms"]) for k in kernels if k["status"] == "ok"}
    assert fastest["fastest"] == min(ok, key=ok.get) and fastest["current"] == "sdpa_flash"
    assert re.search(rf"^\| {fastest['fastest']} \(fastest\) \| ", out, re.M) and f"fastest attention kernel: {fastest['fastest']}" in out


def test_past_the_deadline_nothing_more_is_timed_and_that_is_no_failure(capsys):
    assert attn_bench.main(["--cpu", "--seconds", "0"], start=time.perf_counter()) == 0
    out = capsys.readouterr().out
    assert [(k["kernel"], k["status"], k["reason"]) for k in lines(out, "attn_bench kernel:")] == [
        (name, "unavailable", "deadline") for name in KERNELS]
    assert "attn_bench fastest:none " in out and "speedup:-" in out
    assert out.count("status:unavailable reason:deadline") == len(KERNELS) + 2  # and both Newton-Schulz timings
