"""tools/logs.py: a log written from facts reads back as those facts, ours and the challenge's; unknown lines change nothing."""

import math
import sys

from hypothesis import given, strategies as st

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import logs  # noqa: E402

NAME = st.text("abcdefghij_", min_size=1, max_size=8).map(lambda s: "k" + s)
LOSS = st.floats(0.5, 9.0).map(lambda v: float(f"{v:.8f}"))
MS = st.integers(1, 900_000)
SETTINGS = st.dictionaries(NAME, st.text("abc019./-", max_size=6), max_size=5)
PHASES = st.lists(st.tuples(LOSS, LOSS, MS), min_size=1, max_size=3)
# Lines neither reader knows; without `:` or `=` they also state no key:value fact.
JUNK = st.lists(st.text("abcdefgh XYZ012.,()", min_size=1, max_size=30).map(lambda s: "note " + s), max_size=4)


def our_facts():
    return st.fixed_dictionaries({
        "seed": st.integers(0, 10**6), "world_size": st.integers(1, 8), "cuda": st.booleans(), "settings": SETTINGS,
        "code_size": st.integers(1, 10**6), "train": st.lists(st.tuples(LOSS, MS), min_size=1, max_size=5),
        "val": st.lists(st.tuples(LOSS, LOSS), max_size=2), "phases": PHASES, "eval_ms": MS, "compile_ms": MS,
        "bytes": st.tuples(st.integers(1, 10**7), st.integers(1, 10**6)), "peak": st.integers(1, 10**5),
        "stopped": st.booleans(), "abort": st.none() | st.integers(1, 99), "shrink": st.integers(2, 8),
    })


def our_log(f: dict) -> list[str]:
    """The lines train_gpt.py prints for these facts, in its order (README "Log lines")."""
    gpu = " gpu:NVIDIA_H100_80GB_HBM3" if f["cuda"] else ""
    settings = " ".join(f"{k}:{v}" for k, v in {**f["settings"], "seed": f["seed"]}.items())
    lines = ["config profile:competition reason:CONFIG_PROFILE set",
             f"device:{'cuda' if f['cuda'] else 'cpu'} world_size:{f['world_size']}{gpu} torch:2.13.0",
             f"code bytes:{f['code_size']} sha256:{'ab' * 32}", f"hyperparameters {settings}", "val_tokens:1000 val_bytes:2400"]
    t = 0
    for step, (loss, ms) in enumerate(f["train"], 1):
        t += ms
        lines.append(f"step:{step}/20000 train_loss:{loss:.4f} train_time:{t}ms step_avg:{t / step:.2f}ms")
    for loss, bpb in f["val"]:
        lines.append(f"step:{len(f['train'])}/20000 val_loss:{loss:.4f} val_bpb:{bpb:.4f} train_time:{t}ms step_avg:1.00ms")
    if f["abort"] is not None:
        return lines + [f"abort reason:nonfinite_loss step:{f['abort']}"]
    if f["stopped"]:
        lines.append(f"stopping_early: wallclock_cap train_time:{t + 1}ms step:{len(f['train'])}/20000")
    model, code = f["bytes"]
    lines += [f"peak memory allocated:{f['peak']}MiB reserved:{f['peak'] + 1}MiB",
              f"shrink applied int_bits:{f['shrink']} embed_bits:8 bytes_total:{model + code}",
              f"artifact path:a.pgolf bytes_model:{model} bytes_code:{code} bytes_total:{model + code}",
              f"eval_compile time:{f['compile_ms']}ms"]
    lines += [f"final_p{i} val_loss:{loss:.8f} val_bpb:{bpb:.8f} eval_time:{ms}ms"
              for i, (loss, bpb, ms) in enumerate(f["phases"])]
    return lines + [f"eval_total time:{f['eval_ms']}ms budget:600000ms", f"final val_bpb:{f['phases'][-1][1]:.8f}"]


def interleave(lines: list[str], junk: list[str]) -> str:
    out = list(lines)
    for i, line in enumerate(junk):
        out.insert((7 * i) % (len(out) + 1), line)
    return "\n".join(out) + "\n"


@given(our_facts(), JUNK)
def test_our_log_reads_back_the_facts_it_was_written_from(f, junk):
    facts = logs.parse(interleave(our_log(f), junk), "x.log")
    assert facts["format"] == logs.OURS and "unreadable" not in facts
    assert (facts["seed"], facts["world_size"], facts["code_size"], facts["code_sha256"]) == (f["seed"], f["world_size"],
                                                                                              f["code_size"], "ab" * 32)
    assert facts["device"] == ("cuda" if f["cuda"] else "cpu")
    assert facts.get("gpu") == ("NVIDIA H100 80GB HBM3" if f["cuda"] else None)
    assert facts["settings"] == {k: str(v) for k, v in {**f["settings"], "seed": f["seed"]}.items()}
    assert facts["profile"] == "competition" and facts["profile_set"]
    train = [p for p in facts["curve"] if "train_loss" in p]
    assert [(p["step"], p["train_loss"]) for p in train] == [(i, float(f"{v:.4f}")) for i, (v, _) in enumerate(f["train"], 1)]
    assert [p["val_loss"] for p in facts["curve"] if "val_loss" in p] == [float(f"{loss:.4f}") for loss, _ in f["val"]]
    t = sum(ms for _, ms in f["train"])
    if f["abort"] is not None:
        assert facts["abort"] == {"reason": "nonfinite_loss", "step": f["abort"]} and "val_bpb" not in facts
        assert facts["train_time_ms"] == t and "phases" in facts and not facts["phases"]
        return
    stopped = f["stopped"]
    assert facts["train_time_ms"] == t + stopped and facts["steps"] == len(f["train"])
    assert ("stopping_early" in facts) == stopped
    model, code = f["bytes"]
    assert (facts["bytes_model"], facts["bytes_code"], facts["bytes_total"]) == (model, code, model + code)
    assert facts["shrink"] == [{"event": "applied", "int_bits": f["shrink"], "embed_bits": 8, "bytes_total": model + code}]
    assert facts["peak_memory_mib"] == f["peak"] and facts["eval_compile_ms"] == f["compile_ms"]
    assert [(p["name"], p["val_loss"], p["val_bpb"], p["eval_time_ms"]) for p in facts["phases"]] == [
        (f"final_p{i}", loss, bpb, ms) for i, (loss, bpb, ms) in enumerate(f["phases"])]
    assert (facts["val_loss"], facts["val_bpb"]) == f["phases"][-1][:2]
    assert facts["eval_time_ms"] == f["eval_ms"] and facts["eval_time_from"] == "eval_total time"
    assert logs.loss_per_bpb(facts)[0] == math.log(2) * 2400 / 1000


def foreign_facts():
    return st.fixed_dictionaries({
        "seed": st.integers(0, 10**6), "world_size": st.integers(1, 8), "settings": SETTINGS, "steps": st.integers(1, 20000),
        "train_ms": MS, "bytes": st.tuples(st.integers(1, 10**7), st.integers(1, 10**6)), "phases": PHASES,
        "tokens": st.integers(1, 10**8), "total_eval_s": st.none() | st.floats(1, 900).map(lambda v: float(f"{v:.3f}")),
    })


def foreign_log(f: dict) -> list[str]:
    """Lines in the shapes the challenge's train_gpt.py prints (its own source code first, then a rule)."""
    model, code = f["bytes"]
    settings = " ".join(f"{k}:{v}" for k, v in f["settings"].items() if v)
    lines = ["import os", "=" * 100, f"world_size:{f['world_size']} grad_accum_steps:1", f"seed:{f['seed']}"]
    lines += [settings] if settings else []
    lines += ["warmup_step:1/20", f"val_loader:shards pattern=/d/fineweb_val_*.bin tokens:{f['tokens']}",
              f"step:{f['steps']}/20000 train_loss:2.5000 train_time:{f['train_ms']}ms step_avg:1.00ms",
              f"stopping_early: wallclock_cap train_time:{f['train_ms']}ms step:{f['steps']}/20000",
              f"Serialized model int8+zlib: {model} bytes", f"Code size: {code} bytes",
              f"Total submission size int8+zlib: {model + code} bytes"]
    for i, (loss, bpb, ms) in enumerate(f["phases"]):
        lines += [f"final_q{i} val_loss:{loss:.4f} val_bpb:{bpb:.4f} eval_time:{ms}ms",
                  f"final_q{i}_exact val_loss:{loss:.8f} val_bpb:{bpb:.8f}"]
    return lines + ([f"total_eval_time:{f['total_eval_s']}s"] if f["total_eval_s"] is not None else [])


@given(foreign_facts(), JUNK)
def test_a_challenge_log_reads_back_under_the_same_fact_names(f, junk):
    facts = logs.parse(interleave(foreign_log(f), junk))
    assert facts["format"] == logs.FOREIGN
    model, code = f["bytes"]
    assert (facts["seed"], facts["world_size"], facts["val_tokens"]) == (f["seed"], f["world_size"], f["tokens"])
    assert (facts["bytes_model"], facts["bytes_code"], facts["bytes_total"]) == (model, code, model + code)
    assert (facts["steps"], facts["train_time_ms"]) == (f["steps"], f["train_ms"])
    assert facts["settings"] == {"world_size": str(f["world_size"]), "grad_accum_steps": "1", "seed": str(f["seed"]),
                                 **{k: v for k, v in f["settings"].items() if v}}
    # A phase printed again as `<name>_exact` is one phase, with the full-precision values.
    assert [(p["name"], p["val_loss"], p["val_bpb"], p["eval_time_ms"]) for p in facts["phases"]] == [
        (f"final_q{i}", loss, bpb, ms) for i, (loss, bpb, ms) in enumerate(f["phases"])]
    assert (facts["val_loss"], facts["val_bpb"]) == f["phases"][-1][:2]
    if f["total_eval_s"] is not None:
        assert facts["eval_time_ms"] == 1000 * f["total_eval_s"] and facts["eval_time_from"] == "total_eval_time"
    else:
        assert facts["eval_time_ms"] == sum(ms for _, _, ms in f["phases"])
    assert logs.loss_per_bpb(facts)[0] == f["phases"][-1][0] / f["phases"][-1][1]


@given(st.lists(st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40), max_size=8))
def test_unknown_lines_are_ignored(junk):
    """Lines that start with no known head change nothing in our logs, whatever they hold."""
    lines = our_log({"seed": 1, "world_size": 1, "cuda": False, "settings": {}, "code_size": 9, "train": [(3.0, 5)], "val": [],
                     "phases": [(2.0, 1.0, 7)], "eval_ms": 9, "compile_ms": 1, "bytes": (5, 9), "peak": 3, "stopped": False,
                     "abort": None, "shrink": 4})
    safe = ["zz_" + line for line in junk if "Recompiling function" not in line and "peak memory allocated" not in line]
    assert logs.parse(interleave(lines, safe)) == logs.parse(interleave(lines, []))
