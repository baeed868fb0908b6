"""The one reader of run logs: the lines train_gpt.py prints (README "Log lines") and, as far as they
carry the same facts, the lines of the challenge's baseline train_gpt.py and the records built on it.

    facts = logs.read(path)   # or logs.parse(text): a dict; a fact the log lacks is absent
    why = logs.unfinished(facts)   # None, or why the run has no usable score (abort, no score, inf)

Both kinds give: seed, world_size, curve (every `step:` line), steps, train_time_ms and step_avg_ms
(`stopping_early:`, else the last `step:` line), phases (every scored evaluation line, in order),
val_bpb and val_loss (the score), bytes_code, bytes_model, bytes_total, eval_time_ms with
eval_time_from, settings with settings_from, val_tokens, peak_memory_mib, recompiles_total and
recompiles_after_warmup, bench_run (tools/gpu_bench.sh's line), traceback, unreadable.
Ours also: profile, profile_set, device, gpu, torch, code_size, code_sha256, val_bytes,
artifact_path, budget_estimate, budget_smallest, artifact_limit, params_stored, params_effective,
eval_compile_ms, abort, stopping_early, shrink. The challenge's: bytes_code_compressed.
Lines the reader does not know are ignored.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

FLOAT = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
LOG_SUFFIXES = (".log", ".txt")
OURS, FOREIGN = "train_gpt.py of this repository", "challenge-style log"
# Lines that only this repository's train_gpt.py prints: one of them makes a log ours.
OUR_HEADS = ("config profile:", "hyperparameters ", "code bytes:", "final val_bpb:", "abort reason:", "eval_total time:")
# `step:12/20000 ...` (both kinds) or `12/20000 ...` (some records).
STEP_LINE = re.compile(r"(?:step:\s*(\d+)/\d+|(\d+)/\d+\s)")
STEP_VALUES = (("train_loss", "train_loss", ""), ("val_loss", "val_loss", ""), ("val_bpb", "val_bpb", ""),
               ("train_time", "train_time_ms", "ms"), ("step_avg", "step_avg_ms", "ms"))
RECOMPILE = "Recompiling function"  # one line per recompilation under TORCH_LOGS=recompiles
# Both `peak memory allocated:123MiB` (ours) and `peak memory allocated: 123 MiB` (the baseline).
PEAK_MEMORY = re.compile(r"peak memory allocated:\s*(\d+)\s*MiB")


def fields(line: str) -> dict:
    """key:value pairs of one log line (values are single tokens)."""
    return dict(token.split(":", 1) for token in line.split() if ":" in token)


def number(value: str) -> float:
    """A logged number, `ms` suffix or not."""
    return float(value.removesuffix("ms"))


def value(key: str, line: str, unit: str = "") -> float | None:
    """The number after `key:` or `key=` (the challenge's logs may put a space after it), or None."""
    m = re.search(rf"{key}[:=]\s*({FLOAT}){unit}", line)
    return float(m.group(1)) if m else None


def read(path: Path) -> dict:
    """The facts of one log file, with its name as `log` and its `path`."""
    path = Path(path)
    return {**parse(path.read_text(errors="replace"), path.name), "path": path}


def parse(text: str, name: str = "") -> dict:
    """The facts of a log's text, ours or the challenge's."""
    lines = text.splitlines()
    ours = any(line.startswith(OUR_HEADS) for line in lines)
    facts = {"log": name, "format": OURS if ours else FOREIGN, "curve": [], "phases": [],
             "traceback": any(line.startswith("Traceback (most recent call last)") for line in lines)}
    read_training(facts, lines)
    (read_ours if ours else read_foreign)(facts, lines)
    return facts


def find_logs(folder: Path, patterns=("*", "*/*", "*/*/*")) -> list[Path]:
    """The logs in a folder and (by default) two levels of subfolders, sorted: *.log and *.txt files
    (not requirements or README files) that mention val_bpb or are ours."""
    candidates = (p for pattern in patterns for p in Path(folder).glob(pattern) if p.suffix in LOG_SUFFIXES
                  and not p.name.startswith(("requirements", "README")) and p.is_file())
    return sorted(p for p in candidates if any(mark in p.read_text(errors="replace") for mark in ("val_bpb", "config profile:")))


def unfinished(facts: dict) -> str | None:
    """Why a run has no usable score (an abort, no final score line, or a non-finite one), or None."""
    if abort := facts.get("abort"):
        if abort.get("reason") == "nonfinite_loss":
            return f"diverged: non-finite training loss at step {abort.get('step')}"
        return f"failed: aborted ({abort.get('reason')}) at step {abort.get('step')}"
    if facts.get("val_bpb") is None:
        return "failed: no final val_bpb line" + (" (it has a Python traceback)" if facts.get("traceback") else "")
    if not math.isfinite(facts["val_bpb"]):
        return f"failed: final val_bpb is {facts['val_bpb']}"
    return None


def loss_per_bpb(facts: dict) -> tuple[float, str] | None:
    """(val_loss / val_bpb of the log's validation set, how it was read), or None: exactly from our
    `val_tokens:<n> val_bytes:<n>` line (ln 2 x bytes / tokens), else from the last scored line with both."""
    if facts.get("val_tokens", 0) > 0 and "val_bytes" in facts:
        return math.log(2) * facts["val_bytes"] / facts["val_tokens"], f"{facts['log']}: ln2 x val_bytes / val_tokens"
    both = [p for p in facts["phases"] if p.get("val_bpb", 0) > 0 and math.isfinite(p.get("val_loss", math.nan))]
    if not both:
        return None
    return both[-1]["val_loss"] / both[-1]["val_bpb"], f"{facts['log']}: val_loss / val_bpb of `{both[-1]['name']}`"


# ---- Lines both kinds of log print alike -------------------------------------


def read_step(line: str) -> dict | None:
    """A training `step:` line's step and values, or None for any other line."""
    m = STEP_LINE.match(line)
    if not m:
        return None
    point = {"step": int(m.group(1) or m.group(2))}
    for key, fact, unit in STEP_VALUES:
        if (v := value(key, line, unit)) is not None:
            point[fact] = v
    return point


def read_training(facts: dict, lines: list[str]):
    """Step lines, `stopping_early:`, peak memory, tools/gpu_bench.sh's `bench_run`, and recompiles.
    Recompiles count where a timer runs: from the first training step to the export, and from
    `eval_compile` (evaluation's deliberate priming is done) to `eval_total`; in an evaluation-only
    run, which has no warm-up to leave out, every one counts."""
    total = timed_count = 0
    started = primed = timed = False
    for line in lines:
        if RECOMPILE in line:
            total, timed_count = total + 1, timed_count + timed
            continue
        point = read_step(line)
        if point is not None:
            facts["curve"].append(point)
            if line.startswith("step:") and "train_loss" in point and "step_avg_ms" in point and not started:
                started = timed = True
        elif line.startswith("stopping_early"):
            stop = {"train_time_ms": value("train_time", line, "ms"), "steps": value("step", line)}
            facts["stopping_early"] = {k: int(v) if k == "steps" else v for k, v in stop.items() if v is not None}
        elif line.startswith(("artifact path:", "eval_total")):
            timed = False
        elif line.startswith("eval_compile"):
            primed = timed = True
        elif line.startswith("bench_run "):
            facts["bench_run"] = fields(line)
        if m := PEAK_MEMORY.search(line):
            facts["peak_memory_mib"] = int(m.group(1))
    facts["recompiles_total"] = total
    facts["recompiles_after_warmup"] = timed_count if started or primed else total
    timed_points = [p for p in facts["curve"] if "train_time_ms" in p]
    if timed_points:
        last = timed_points[-1]
        facts.update(steps=last["step"], train_time_ms=last["train_time_ms"])
        facts.update({"step_avg_ms": last["step_avg_ms"]} if "step_avg_ms" in last else {})
    stop = facts.get("stopping_early", {})
    facts.update(stop)
    if "steps" in stop and "train_time_ms" in stop:
        facts["step_avg_ms"] = stop["train_time_ms"] / max(stop["steps"], 1)


def add_phase(facts: dict, name: str, values: dict):
    """One scored evaluation line. The baseline prints a phase twice, the second time at full
    precision as `<name>_exact`: that is one phase, with the later values."""
    name = name.removesuffix("_exact")
    phase = next((p for p in facts["phases"] if p["name"] == name), None)
    if phase is None:
        phase = {"name": name}
        facts["phases"].append(phase)
    phase.update({k: v for k, v in values.items() if v is not None})


# ---- This repository's train_gpt.py ------------------------------------------

# Our lines whose fields are facts one to one: line head -> {field: (fact, type)}.
OUR_FIELDS = {
    "config profile:": {"profile": ("profile", str)},
    "device:": {"device": ("device", str), "world_size": ("world_size", int), "gpu": ("gpu", lambda v: v.replace("_", " ")),
                "torch": ("torch", str)},
    "code bytes:": {"bytes": ("code_size", int), "sha256": ("code_sha256", str)},
    "budget_estimate ": {"bytes": ("budget_estimate", int), "smallest": ("budget_smallest", int),
                         "limit": ("artifact_limit", int)},
    "val_tokens:": {"val_tokens": ("val_tokens", int), "val_bytes": ("val_bytes", int)},
    "model_params ": {"stored": ("params_stored", int), "effective": ("params_effective", int)},
    "artifact ": {"path": ("artifact_path", str), "bytes_model": ("bytes_model", int), "bytes_code": ("bytes_code", int),
                  "bytes_total": ("bytes_total", int)},
    "eval_compile ": {"time": ("eval_compile_ms", number)},
    "eval_total ": {"time": ("eval_time_ms", number)},
    "final val_bpb:": {"val_bpb": ("val_bpb", float)},
}


def read_ours(facts: dict, lines: list[str]):
    """Every line is read on its own; a line whose values do not read is skipped and the first such
    is named in `unreadable`."""
    for n, line in enumerate(lines, 1):
        try:
            read_our_line(facts, line, fields(line))
        except ValueError as exc:
            facts.setdefault("unreadable", f"line {n} {line[:60]!r} ({exc})")
    if "eval_time_ms" in facts:
        facts["eval_time_from"] = "eval_total time"


def read_our_line(facts: dict, line: str, f: dict):
    for head, names in OUR_FIELDS.items():
        if line.startswith(head):
            facts.update({fact: kind(f[key]) for key, (fact, kind) in names.items() if key in f})
    if line.startswith("config profile:"):
        facts["profile_set"] = "reason:CONFIG_PROFILE set" in line
    elif line.startswith("hyperparameters "):
        facts["settings"], facts["settings_from"] = f, "the hyperparameters line"
        facts.update({"seed": int(f["seed"])} if "seed" in f else {})
    elif line.startswith("final_"):
        kinds = {"val_loss": float, "val_bpb": float, "eval_time": number}
        values = {("eval_time_ms" if k == "eval_time" else k): kinds.get(k, str)(v) for k, v in f.items()}
        add_phase(facts, line.split()[0], values)
    elif line.startswith("final val_bpb:") and "val_loss" in (facts["phases"] or [{}])[-1]:
        facts["val_loss"] = facts["phases"][-1]["val_loss"]  # the score is the last phase's
    elif line.startswith("abort "):
        step = f.get("step", "?")
        facts["abort"] = {"reason": f.get("reason", "unknown"), "step": int(step) if step.isdigit() else step}
    elif line.startswith("shrink "):
        numbers = {k: int(v) for k, v in f.items() if v.isdigit()}
        facts.setdefault("shrink", []).append({"event": line.split()[1], **numbers})


# ---- The challenge's train_gpt.py and the records built on it ----------------


def read_foreign(facts: dict, lines: list[str]):
    """Their line shapes, read with some slack (spaces after colons, `=`, units)."""
    first_step = next((i for i, line in enumerate(lines) if STEP_LINE.match(line) or line.startswith("warmup_step")), len(lines))
    trained = next((i for i, line in enumerate(lines) if STEP_LINE.match(line)), len(lines))
    eval_parts, block, settings = [], False, {}
    for i, line in enumerate(lines):
        if line.strip() == "Hyperparameters:":
            block = True
            continue
        if block and (m := re.match(r"\s+([A-Za-z_]\w*):\s?(.*)$", line)):
            settings[m.group(1)] = m.group(2).strip()
            continue
        block = False
        read_foreign_sizes(facts, line)
        if STEP_LINE.match(line) or line.startswith("stopping_early"):
            continue
        if (t := value("total_eval_time", line, r"s\b")) is not None:
            facts["eval_time_ms"], facts["eval_time_from"] = 1000 * t, "total_eval_time"
        elif i > trained and (t := value("eval_time", line, "ms")) is not None:
            eval_parts.append(t)
        read_foreign_score(facts, line)
    if "eval_time_ms" not in facts and eval_parts:
        facts["eval_time_ms"] = sum(eval_parts)
        facts["eval_time_from"] = f"sum of {len(eval_parts)} eval_time lines after training"
    if settings:
        facts["settings"], facts["settings_from"] = settings, "the Hyperparameters block"
    elif settings := settings_before_training(lines[:first_step]):
        facts["settings"], facts["settings_from"] = settings, "key:value lines before training"
    if "seed" not in facts and re.fullmatch(r"\d+", facts.get("settings", {}).get("seed", "")):
        facts["seed"] = int(facts["settings"]["seed"])


def read_foreign_sizes(facts: dict, line: str):
    """Seed, world size, validation tokens and the byte counts, wherever a line states them."""
    if "seed" not in facts and (m := re.search(r"(?:^|\s)seed[:=]\s*(\d+)\b", line)):
        facts["seed"] = int(m.group(1))
    if "world_size" not in facts and (m := re.search(r"world_size[:=]\s*(\d+)", line)):
        facts["world_size"] = int(m.group(1))
    if line.startswith("val_loader:") and (m := re.search(r"\btokens:(\d+)", line)):
        facts["val_tokens"] = int(m.group(1))
    if m := re.match(r"\s*Code size( \(compressed\))?:\s*(\d+)\s*bytes", line):
        if m.group(1) or "bytes_code_compressed" not in facts:  # the compressed size is the one counted
            facts["bytes_code"] = int(m.group(2))
        facts.update({"bytes_code_compressed": True} if m.group(1) else {})
    for pattern, fact in ((r"\s*Total submission size[^:]*:\s*(\d+)\s*bytes", "bytes_total"),
                          (r"\s*Serialized model[^:]*:\s*(\d+)\s*bytes", "bytes_model")):
        if m := re.match(pattern, line):
            facts[fact] = int(m.group(1))


def read_foreign_score(facts: dict, line: str):
    """A line with val_bpb and val_loss (or a `final*` line with val_bpb) is a scored phase; the last is the score."""
    loss, bpb = value("val_loss", line), value("val_bpb", line)
    head = line.split()[0] if bpb is not None else ""
    if bpb is None or (loss is None and not head.startswith("final")):
        return
    facts["val_bpb"] = bpb
    if loss is None:
        facts.pop("val_loss", None)
    else:
        facts["val_loss"] = loss
    add_phase(facts, head, {"val_loss": loss, "val_bpb": bpb, "eval_time_ms": value("eval_time", line, "ms")})


def settings_before_training(lines: list[str]) -> dict:
    """key:value tokens of the lines after the last `=====` rule (the logged source code ends there)."""
    rules = [i for i, line in enumerate(lines) if re.match(r"={20,}\s*$", line)]
    settings = {}
    for line in lines[rules[-1] + 1 if rules else 0:]:
        for token in line.split():
            key, sep, val = token.partition(":")
            if sep and val and re.match(r"[A-Za-z_]\w*$", key):
                settings[key] = val
    return settings
