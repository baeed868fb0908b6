"""From seed logs to a challenge records folder, built and checked the way reviewers check one.

    python tools/make_record.py --compress-code train_gpt.py -o runs/<tag>/train_gpt.py
    python tools/make_record.py --decompress-code runs/<tag>/train_gpt.py [-o source.py]
    python tools/make_record.py runs/<tag> --name NAME --author AUTHOR --github-id ID \
        [--track auto|10min_16mb|non_record_16mb] [--against REF ...] [--date YYYY-MM-DD] [-o records]
    python tools/make_record.py --check records/track_10min_16mb/<date>_<name> [--against REF ...]

What the challenge asks (github.com/openai/parameter-golf, README.md, "Submission Process" and
"FAQ"): a pull request that only adds one folder under the right `records/` subfolder
(`track_10min_16mb` for records, `track_non_record_16mb` otherwise) holding a README.md that
explains the submission, a submission.json with the author's name, GitHub ID, `val_bpb` and related
metadata, the train logs the script wrote (enough runs to show a statistically significant win;
"most often" the mean of 3), and `train_gpt.py` with any other dependencies, which must compile and
run inside the folder. The artifact is code bytes plus compressed model bytes, at most 16,000,000
bytes, and all counted code lives in `train_gpt.py`; a `requirements.txt` lists imported packages.
Training and evaluation each get 10 minutes on 8xH100. A record beats the previous one by at least
0.005 nats at p < 0.01 (README); the maintainers' leaderboard updates from PR #1902 on accept a
one-sided Welch test at p < 0.25 against the previous record instead (see tools/summarize.py).

--compress-code writes a self-extracting script: lzma + base85 of the source, decompressed and run
with exec() in the wrapper's own module globals, so `__name__` stays `__main__` when it is run
(also under torchrun) and `__file__` is the wrapper: train_gpt's code_bytes(), budget estimate,
auto-fit and `code bytes:` log line all count the file that ships.

Building (positional run folders or seed logs): the code copied into the folder is `--code`
(default: the run folder's train_gpt.py if it has one, else ./train_gpt.py); its SHA-256 must
equal the `code bytes:<n> sha256:<hex>` of every log (exit 2 otherwise, nothing written). The
folder `<-o>/track_<track>/<date>_<name>/` gets train_gpt.py, requirements.txt, each log as
train_seed<seed>.log, submission.json (tools/summarize.py), curves.png (tools/plot_logs.py) and a
README.md (results table, hardware, the command with its non-default variables, the significance
readings with --against); then the folder is checked and the exit status is the check's.

--check reads only the folder and prints `check:<name> ok|fail|warn <detail>` per finding, then
`checks: <n> ok <n> warn <n> fail`; exit 1 on any fail, else 0. It reads this repository's log
lines and, for other folders, the challenge scripts' lines (`Code size:`, `Total submission size`,
`final_*`/TTT `val_loss:... val_bpb:...`, `stopping_early:`/`step:` train_time, `total_eval_time:`
or `eval_time:`, `seed:`, the logged source code), warning where a log lacks a fact.
"""

from __future__ import annotations

import argparse
import ast
import base64
import hashlib
import importlib.util
import json
import lzma
import math
import os
import re
import shlex
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import summarize  # noqa: E402

BYTE_LIMIT = summarize.BYTE_LIMIT
TIME_LIMIT_MS = summarize.TIME_LIMIT_MS
TRACKS = ("10min_16mb", "non_record_16mb")
RECORD_TRACK = "10min_16mb"
MIN_RECORD_SEEDS = 3
REQUIRED_FILES = ("README.md", "submission.json", "train_gpt.py")
# submission.json: the README names "your name, GitHub ID, val_bpb"; the rest is the example runs' metadata.
REQUIRED_FIELDS = ("author", "github_id", "val_bpb")
EXPECTED_FIELDS = ("name", "blurb", "date", "val_loss", "bytes_total", "bytes_code")
# Per-seed values that may differ between the seeds of one submission.
PER_SEED_KEYS = {"seed", "run_id", "artifact_path", "eval_dump"}
FLOAT = summarize.FLOAT


class RecordError(ValueError):
    """Input that cannot make a records folder: printed as `error: ...`, exit status 2."""


# -----------------------------------------------------------------------------
# The self-extracting script
# -----------------------------------------------------------------------------

WRAPPER_HEADER = """\
# train_gpt.py compressed by tools/make_record.py --compress-code: lzma + base85 of the source
# ({size} bytes, sha256 {sha}).
# It runs that source as this module (same globals, __name__ and __file__), so the code size it
# logs and counts is this file's. Print the source with
#   python3 tools/make_record.py --decompress-code <this file>
# or, standard library only:
#   python3 -c "import base64,lzma,sys;l=max(open(sys.argv[1]),key=len);sys.stdout.write(lzma.decompress(base64.b85decode(l.split('\\"')[1])).decode())" <this file>
"""
WRAPPER_BODY = """\
import base64, linecache, lzma
_source = lzma.decompress(base64.b85decode(
"{payload}"))
linecache.cache[__file__] = (len(_source), None, _source.decode().splitlines(True), __file__)  # tracebacks show the source
exec(compile(_source, __file__, "exec", dont_inherit=True))
"""


def compress_code(source: bytes) -> bytes:
    """The wrapper text for `source`; the source must compile, and the wrapper must give it back."""
    if decode_wrapper(source) is not None:
        raise RecordError("the file is already a compressed wrapper")
    try:
        compile(source, "train_gpt.py", "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise RecordError(f"the source does not compile: {exc}") from None
    payload = base64.b85encode(lzma.compress(source, preset=9 | lzma.PRESET_EXTREME)).decode("ascii")
    text = WRAPPER_HEADER.format(size=len(source), sha=hashlib.sha256(source).hexdigest()) + WRAPPER_BODY.format(payload=payload)
    wrapper = text.encode("ascii")
    assert decode_wrapper(wrapper) == source
    return wrapper


def decode_wrapper(data: bytes) -> bytes | None:
    """The source inside a compressed wrapper: ours, or the challenge records' lzma + base85 ones
    (`exec(L.decompress(B.b85decode("...")))`, xz or raw LZMA2); None for a plain script."""
    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) > 200:
            try:
                raw = base64.b85decode(node.value)
            except ValueError:
                continue
            for kwargs in ({}, {"format": lzma.FORMAT_RAW, "filters": [{"id": lzma.FILTER_LZMA2}]}):
                try:
                    return lzma.decompress(raw, **kwargs)
                except lzma.LZMAError:
                    pass
    return None


def code_sources(data: bytes) -> list[str]:
    """The texts a log may have embedded for this train_gpt.py: itself, and a wrapper's source."""
    out = [data.decode("utf-8", errors="replace")]
    inner = decode_wrapper(data)
    if inner is not None:
        out.append(inner.decode("utf-8", errors="replace"))
    return out


# -----------------------------------------------------------------------------
# Reading logs: this repository's lines, and the challenge scripts' lines as far as they go
# -----------------------------------------------------------------------------

STEP_LINE = re.compile(r"(step:\s*\d+/\d+|\d+/\d+\s)")
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")


def looks_like_log(path: Path) -> bool:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return False
    return "val_bpb" in text or "config profile:" in text


def find_logs(folder: Path) -> list[Path]:
    """Seed logs in a folder and its subfolders (two levels): *.log and *.txt that mention val_bpb."""
    found = []
    for pattern in ("*", "*/*", "*/*/*"):
        for p in folder.glob(pattern):
            if p.is_file() and p.suffix in summarize.LOG_SUFFIXES and not p.name.startswith(("requirements", "README")) and looks_like_log(p):
                found.append(p)
    return sorted(found)


def hyperparameter_tokens(line: str) -> dict:
    out = {}
    for token in line.split()[1:]:
        key, _, value = token.partition(":")
        out[key] = value
    return out


def read_log(path: Path) -> dict:
    """The facts of one seed log. Keys (absent when the log does not give them): seed, val_bpb,
    val_loss, bytes_total, bytes_code, bytes_model, train_time_ms, steps, eval_time_ms (with
    eval_time_from), abort, code_sha256, settings (with settings_from), device, world_size, gpu,
    torch, profile, profile_set; always: log, path, format, text, traceback."""
    text = path.read_text(errors="replace")
    lines = text.splitlines()
    ours = any(line.startswith(("hyperparameters ", "config profile:")) for line in lines)
    run = {"log": path.name, "path": path, "text": text, "traceback": any(l.startswith("Traceback (most recent call last)") for l in lines)}
    if ours:
        run["format"] = "train_gpt.py of this repository"
        try:
            run.update({k: v for k, v in summarize.parse_log(path).items() if k not in ("problems", "valid", "log")})
        except (KeyError, ValueError) as exc:
            run["unreadable"] = f"unreadable line ({exc})"
        for line in lines:
            f = summarize.fields(line)
            if line.startswith("config profile:"):
                run["profile"] = f.get("profile")
                run["profile_set"] = "reason:CONFIG_PROFILE set" in line
            elif line.startswith("hyperparameters "):
                run["settings"], run["settings_from"] = hyperparameter_tokens(line), "the hyperparameters line"
            elif line.startswith("artifact path:"):
                run["bytes_model"] = int(f["bytes_model"])
            elif line.startswith("device:"):
                run["torch"] = f.get("torch")
        if "eval_time_ms" in run:
            run["eval_time_from"] = "eval_total time"
        return run
    run["format"] = "challenge-style log"
    read_foreign(run, lines)
    return run


def _num(pattern: str, line: str):
    m = re.search(pattern, line)
    return float(m.group(1)) if m else None


def read_foreign(run: dict, lines: list[str]):
    """Facts from the line shapes of the challenge's train_gpt.py and the records built on it."""
    eval_parts, step_seen, settings, block = [], False, {}, False
    last_sep = -1
    first_step = next((i for i, l in enumerate(lines) if STEP_LINE.match(l) or l.startswith("warmup_step")), len(lines))
    for i, line in enumerate(lines[:first_step]):
        if re.match(r"={20,}\s*$", line):
            last_sep = i
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped == "Hyperparameters:":
            block = True
            continue
        if block:
            m = re.match(r"\s+([A-Za-z_][A-Za-z0-9_]*):\s?(.*)$", line)
            if m:
                settings[m.group(1)] = m.group(2).strip()
                continue
            block = False
        if "seed" not in run:
            m = re.search(r"(?:^|\s)seed[:=]\s*(\d+)\b", line)
            if m:
                run["seed"] = int(m.group(1))
        m = re.search(r"world_size[:=]\s*(\d+)", line)
        if m and "world_size" not in run:
            run["world_size"] = int(m.group(1))
        m = re.match(r"\s*Code size( \(compressed\))?:\s*(\d+)\s*bytes", line)
        if m and (m.group(1) or "bytes_code_compressed" not in run):
            run["bytes_code"] = int(m.group(2))
            if m.group(1):
                run["bytes_code_compressed"] = True
        m = re.match(r"\s*Total submission size[^:]*:\s*(\d+)\s*bytes", line)
        if m:
            run["bytes_total"] = int(m.group(1))
        m = re.match(r"\s*Serialized model[^:]*:\s*(\d+)\s*bytes", line)
        if m:
            run["bytes_model"] = int(m.group(1))
        if line.startswith("stopping_early"):
            t = _num(rf"train_time:\s*({FLOAT})ms", line)
            if t is not None:
                run["train_time_ms"], run["train_time_final"] = t, True
            s = _num(r"step:\s*(\d+)/", line)
            if s is not None:
                run["steps"] = int(s)
            continue
        if STEP_LINE.match(line):
            step_seen = True
            t = _num(rf"train_time:\s*({FLOAT})ms", line)
            if t is not None and not run.get("train_time_final"):
                run["train_time_ms"] = t
            s = re.match(r"\s*(?:step:\s*)?(\d+)/\d+", line)
            if s and not run.get("train_time_final"):
                run["steps"] = int(s.group(1))
            continue
        t = _num(rf"total_eval_time:\s*({FLOAT})s\b", line)
        if t is not None:
            run["eval_time_ms"], run["eval_time_from"] = 1000 * t, "total_eval_time"
        elif step_seen and "eval_time" in line:
            t = _num(rf"eval_time:\s*({FLOAT})ms", line)
            if t is not None:
                eval_parts.append(t)
        loss = _num(rf"val_loss[:=]\s*({FLOAT})", line)
        bpb = _num(rf"val_bpb[:=]\s*({FLOAT})", line)
        if bpb is not None and (loss is not None or stripped.startswith("final")):
            run["val_bpb"] = bpb
            run["final_line"] = stripped.split()[0] if stripped else ""
            if loss is not None:
                run["val_loss"] = loss
            else:
                run.pop("val_loss", None)
    if "eval_time_ms" not in run and eval_parts:
        run["eval_time_ms"], run["eval_time_from"] = sum(eval_parts), f"sum of {len(eval_parts)} eval_time lines after training"
    if not settings:
        for line in lines[last_sep + 1:first_step]:
            for token in line.split():
                key, sep, value = token.partition(":")
                if sep and IDENT.match(key) and value:
                    settings[key] = value
        source = "key:value lines before training"
    else:
        source = "the Hyperparameters block"
    if settings:
        run["settings"], run["settings_from"] = settings, source
        if "seed" not in run and re.fullmatch(r"\d+", settings.get("seed", "")):
            run["seed"] = int(settings["seed"])


def is_path(value: str) -> bool:
    return bool(re.match(r"(\.{0,2}/|~/|[A-Za-z]:\\)\S*$", value))


def comparable_settings(run: dict) -> tuple[dict, dict]:
    """(settings, paths) of a log without what may differ per seed: seed, run id, artifact and
    dump paths, the log's own path, and paths that name the seed; values holding the run id
    compare with it replaced. Paths (values that look like file paths) come apart: where a
    machine keeps its data says nothing certain about the settings."""
    settings = dict(run.get("settings") or {})
    run_id = settings.get("run_id", "")
    seed = str(run.get("seed", settings.get("seed", "")))
    out, paths = {}, {}
    for key, value in settings.items():
        if key in PER_SEED_KEYS or key in ("logfile", "rank", "local_rank"):
            continue
        if run_id and run_id in value:
            value = value.replace(run_id, "<run_id>")
        if is_path(value):
            if not (seed and re.search(rf"(?<![0-9]){re.escape(seed)}(?![0-9])", value)):
                paths[key] = value
            continue
        out[key] = value
    return out, paths


# -----------------------------------------------------------------------------
# --check
# -----------------------------------------------------------------------------


class Findings:
    def __init__(self):
        self.rows = []

    def add(self, name: str, status: str, detail: str):
        self.rows.append((name, status, detail))
        print(f"check:{name} {status} {detail}")

    def status(self, name: str) -> str:
        statuses = [s for n, s, _ in self.rows if n == name]
        return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "ok" if statuses else "missing"


def decimals_of(value) -> int:
    text = repr(float(value))
    return len(text.split(".")[1]) if "." in text and "e" not in text else 8


def folder_track(folder: Path, submission: dict, override: str | None) -> tuple[str, str]:
    if override:
        return override, "--track"
    for part in (folder.parent.name, folder.name):
        if part.startswith("track_") and part[len("track_"):] in TRACKS:
            return part[len("track_"):], f"folder {part}"
    if submission.get("track") in TRACKS:
        return submission["track"], "submission.json track"
    return RECORD_TRACK, "not stated: checked as the record track"


def used_logs(submission: dict, runs: list[dict], found: Findings) -> list[dict]:
    """The logs behind the submission's means: ours name them (`seed_results[].log`, `valid`); the
    challenge's list per-seed val_bpb, matched to the log of that seed and score; else every
    finished log."""
    entries = submission.get("seed_results")
    finished = [r for r in runs if r.get("val_bpb") is not None and not r.get("abort")]
    if isinstance(entries, list) and entries and all(isinstance(e, dict) and "log" in e for e in entries):
        by_name = {Path(r["log"]).name: r for r in runs}
        out = []
        for e in entries:
            if not e.get("valid", True):
                continue
            if e["log"] not in by_name:
                found.add("means", "fail", f"submission.json names {e['log']}, which is not in the folder")
                continue
            out.append(by_name[e["log"]])
        return out
    per_seed = None
    if isinstance(entries, dict):
        per_seed = entries
    elif isinstance(submission.get("seeds"), dict):
        per_seed = submission["seeds"]
    if per_seed:
        out, unmatched = [], False
        for seed, e in per_seed.items():
            if not isinstance(e, dict) or not summarize.finite_number(e.get("val_bpb")):
                continue
            tol = 0.5 * 10 ** -decimals_of(e["val_bpb"]) + 1e-12
            match = [r for r in finished if str(r.get("seed")) == str(seed) and abs(r["val_bpb"] - e["val_bpb"]) <= tol]
            if match:
                out.append(match[0])
            else:
                logged = [r["val_bpb"] for r in finished if str(r.get("seed")) == str(seed)]
                found.add("means", "fail", f"seed {seed}: submission.json says val_bpb {e['val_bpb']}, "
                                           + (f"its logs say {logged}" if logged else "no finished log has that seed"))
                unmatched = True
        return None if unmatched else out
    return finished


def check_folder(folder: Path, against: list[Path] | None = None, track: str | None = None) -> Findings:
    found = Findings()
    folder = Path(folder)
    if not folder.is_dir():
        found.add("files", "fail", f"{folder} is not a folder")
        return found
    logs = find_logs(folder)
    missing = [n for n in REQUIRED_FILES if not (folder / n).is_file()]
    if missing or not logs:
        found.add("files", "fail", "missing: " + ", ".join(missing + ([] if logs else ["a train log (*.log or *.txt with val_bpb)"])))
    else:
        found.add("files", "ok", f"{', '.join(REQUIRED_FILES)} and {len(logs)} log(s)")
    if not (folder / "requirements.txt").is_file():
        found.add("files", "warn", "no requirements.txt (the challenge asks for one when the script imports packages)")
    others = sorted(p.name for p in folder.glob("*.py") if p.name != "train_gpt.py")
    if others:
        found.add("other_code", "warn", f"other Python files: {', '.join(others)}; the challenge counts only train_gpt.py as code, "
                                        "so code they hold that train_gpt.py runs is uncounted")

    submission = {}
    try:
        submission = json.loads((folder / "submission.json").read_text())
        if not isinstance(submission, dict):
            raise ValueError(f"a JSON {type(submission).__name__}, not an object")
    except FileNotFoundError:
        found.add("submission_fields", "fail", "no submission.json")
    except (OSError, ValueError) as exc:
        found.add("submission_fields", "fail", f"submission.json is not a JSON object: {exc}")
        submission = {}
    if submission:
        absent = [k for k in REQUIRED_FIELDS if k not in submission]
        if absent:
            found.add("submission_fields", "fail", f"missing {', '.join(absent)}")
        elif not summarize.finite_number(submission["val_bpb"]):
            found.add("submission_fields", "fail", f"val_bpb is not a number: {submission['val_bpb']!r}")
        else:
            found.add("submission_fields", "ok", ", ".join(REQUIRED_FIELDS) + " present")
        empty = [k for k in ("author", "github_id", "name") if k in submission and not str(submission[k]).strip()]
        lacking = [k for k in EXPECTED_FIELDS if k not in submission]
        if empty or lacking:
            found.add("submission_fields", "warn", "; ".join(filter(None, [
                f"empty: {', '.join(empty)}" if empty else "", f"absent: {', '.join(lacking)}" if lacking else ""])))

    code = (folder / "train_gpt.py").read_bytes() if (folder / "train_gpt.py").is_file() else None
    runs = [read_log(p) for p in logs]
    for r in runs:
        r["log"] = str(r["path"].relative_to(folder))
    check_code(found, code, runs, submission)
    check_runs(found, runs)
    check_settings(found, runs)
    check_hardware(found, runs)
    the_track, why = folder_track(folder, submission, track)
    check_seeds(found, runs, the_track, why)
    new = check_means(found, submission, runs)
    if against:
        check_significance(found, new, against, the_track)
    return found


def check_code(found: Findings, code: bytes | None, runs: list[dict], submission: dict):
    if code is None:
        found.add("code_hash", "fail", "no train_gpt.py")
        return
    sha, size = hashlib.sha256(code).hexdigest(), len(code)
    with_hash = [r for r in runs if r.get("code_sha256")]
    bad = [f"{r['log']} ran sha256 {r['code_sha256'][:12]}..." for r in with_hash if r["code_sha256"] != sha]
    sources = None
    embedded, no_fact = [], []
    for r in runs:
        if r.get("code_sha256"):
            continue
        sources = sources if sources is not None else [s.strip() for s in code_sources(code) if s.strip()]
        if any(s in r["text"] for s in sources):
            embedded.append(r["log"])
        else:
            no_fact.append(r["log"])
    if bad:
        found.add("code_hash", "fail", f"train_gpt.py has sha256 {sha[:12]}..., but " + "; ".join(bad))
    elif with_hash or embedded:
        parts = ([f"{len(with_hash)} log(s) ran sha256 {sha[:12]}..., the folder's train_gpt.py"] if with_hash else []) + \
                ([f"{len(embedded)} log(s) embed its source"] if embedded else [])
        found.add("code_hash", "ok", "; ".join(parts))
    if no_fact:
        found.add("code_hash", "warn", f"{', '.join(no_fact)}: no sha256 line and no embedded source, so the code that ran is unproven")

    problems, ok = [], []
    for r in runs:
        if "bytes_code" not in r:
            continue
        (ok if r["bytes_code"] == size else problems).append(f"{r['log']} counted {r['bytes_code']}")
    if "bytes_code" in submission and submission["bytes_code"] != size:
        problems.append(f"submission.json says {submission['bytes_code']}")
    if problems:
        compressed = " (the logs count a compressed size of the code; the challenge counts train_gpt.py as shipped)" \
            if any(r.get("bytes_code_compressed") for r in runs) else ""
        found.add("bytes_code", "fail", f"train_gpt.py is {size} bytes, but " + "; ".join(problems) + compressed)
    elif ok:
        found.add("bytes_code", "ok", f"train_gpt.py is {size} bytes, as every log counted")
    lacking = [r["log"] for r in runs if "bytes_code" not in r]
    if lacking:
        found.add("bytes_code", "warn", f"{', '.join(lacking)}: no code size line")

    problems, ok = [], []
    for r in runs:
        if "bytes_total" not in r:
            continue
        if r["bytes_total"] > BYTE_LIMIT:
            problems.append(f"{r['log']}: {r['bytes_total']} > {BYTE_LIMIT}")
        elif "bytes_model" in r and "bytes_code" in r and r["bytes_total"] != r["bytes_code"] + r["bytes_model"]:
            problems.append(f"{r['log']}: bytes_total {r['bytes_total']} != code {r['bytes_code']} + model {r['bytes_model']}")
        elif "bytes_model" in r and "bytes_code" not in r and r["bytes_total"] != size + r["bytes_model"]:
            problems.append(f"{r['log']}: shipped code {size} + model {r['bytes_model']} = {size + r['bytes_model']}, not {r['bytes_total']}")
        else:
            ok.append(r["bytes_total"])
    total = submission.get("bytes_total")
    if summarize.finite_number(total) and total > BYTE_LIMIT:
        problems.append(f"submission.json bytes_total {total} > {BYTE_LIMIT}")
    if problems:
        found.add("bytes_total", "fail", "; ".join(problems))
    elif ok:
        found.add("bytes_total", "ok", f"code + model <= {BYTE_LIMIT} in {len(ok)} log(s) (largest {max(ok)})")
    lacking = [r["log"] for r in runs if "bytes_total" not in r and r.get("val_bpb") is not None]
    if lacking:
        found.add("bytes_total", "warn", f"{', '.join(lacking)}: no total size line")


def check_runs(found: Findings, runs: list[dict]):
    bad, good = [], 0
    for r in runs:
        if r.get("abort"):
            a = r["abort"]
            why = "diverged (non-finite loss)" if a.get("reason") == "nonfinite_loss" else f"aborted ({a.get('reason')})"
            bad.append(f"{r['log']}: {why} at step {a.get('step')}")
        elif r.get("val_bpb") is None:
            bad.append(f"{r['log']}: no final score line" + (" (it has a Python traceback)" if r["traceback"] else ""))
        elif not math.isfinite(r["val_bpb"]):
            bad.append(f"{r['log']}: final val_bpb is {r['val_bpb']}")
        else:
            good += 1
    unreadable = [f"{r['log']}: {r['unreadable']}" for r in runs if r.get("unreadable")]
    if unreadable:
        found.add("finished", "warn", "; ".join(unreadable))
    if bad:
        found.add("finished", "fail", "; ".join(bad))
    elif runs:
        found.add("finished", "ok", f"{good} of {len(runs)} log(s) end with a finite final score and no abort")
    for key, name, what in (("train_time_ms", "train_time", "training"), ("eval_time_ms", "eval_time", "evaluation")):
        over = [f"{r['log']}: {r[key]:.0f} ms" for r in runs if key in r and r[key] > TIME_LIMIT_MS]
        timed = [r[key] for r in runs if key in r]
        if over:
            found.add(name, "fail", f"{what} over {TIME_LIMIT_MS // 1000} s: " + "; ".join(over))
        elif timed:
            source = {r.get("eval_time_from") for r in runs if key in r} - {None} if key == "eval_time_ms" else set()
            found.add(name, "ok", f"{what} <= {TIME_LIMIT_MS // 1000} s in {len(timed)} log(s) (longest {max(timed) / 1000:.1f} s"
                                  + (f"; from {', '.join(sorted(source))})" if source else ")"))
        lacking = [r["log"] for r in runs if key not in r and r.get("val_bpb") is not None]
        if lacking:
            found.add(name, "warn", f"{', '.join(lacking)}: no {what} time")


def check_settings(found: Findings, runs: list[dict]):
    have = [r for r in runs if r.get("settings")]
    if not have:
        if runs:
            found.add("settings", "warn", "no log states its settings")
        return

    def differences(a: dict, b: dict) -> list[str]:
        keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        return [f"{k}={b.get(k, '(absent)')} not {a.get(k, '(absent)')}" for k in keys]

    ref, ref_paths = comparable_settings(have[0])
    diffs, path_diffs = [], []
    for r in have[1:]:
        other, other_paths = comparable_settings(r)
        for bucket, d in ((diffs, differences(ref, other)), (path_diffs, differences(ref_paths, other_paths))):
            if d:
                bucket.append(f"{r['log']} vs {have[0]['log']}: " + ", ".join(d[:8]) + (f" and {len(d) - 8} more" if len(d) > 8 else ""))
    if path_diffs:
        found.add("settings", "warn", "paths differ (data may differ too): " + "; ".join(path_diffs))
    if diffs:
        found.add("settings", "fail", "; ".join(diffs))
    else:
        found.add("settings", "ok", f"{len(have)} log(s) ran the same settings apart from seed, run id and output paths "
                                    f"(read from {have[0]['settings_from']})")
    lacking = [r["log"] for r in runs if not r.get("settings")]
    if lacking:
        found.add("settings", "warn", f"{', '.join(lacking)}: no settings lines")


def check_hardware(found: Findings, runs: list[dict]):
    """From our `device:` lines; other logs do not say it in one line."""
    devices = {(r.get("device"), r.get("world_size"), r.get("gpu")) for r in runs if r.get("device")}
    if devices:
        text = "; ".join(summarize.hardware({"device": d, "world_size": w, "gpu": g}) for d, w, g in sorted(devices, key=str))
        h100x8 = all(d == "cuda" and w == 8 and "H100" in (g or "") for d, w, g in devices)
        found.add("hardware", "ok" if h100x8 else "warn", text + ("" if h100x8 else " (the record track's limits are for 8xH100)"))


def check_seeds(found: Findings, runs: list[dict], track: str, why: str):
    finished = [r for r in runs if r.get("val_bpb") is not None and not r.get("abort")]
    seeds = [r.get("seed") for r in finished]
    distinct = sorted({s for s in seeds if s is not None})
    unknown = sum(s is None for s in seeds)
    detail = f"track {track} ({why}): {len(distinct)} distinct seed(s) {distinct}" + (f" and {unknown} log(s) without a seed" if unknown else "")
    if track == RECORD_TRACK and len(distinct) < MIN_RECORD_SEEDS:
        found.add("seeds", "fail", detail + f"; a record needs at least {MIN_RECORD_SEEDS}")
    elif len(distinct) < len(seeds) - unknown:
        found.add("seeds", "warn", detail + "; some seeds repeat")
    else:
        found.add("seeds", "ok", detail)


def check_means(found: Findings, submission: dict, runs: list[dict]) -> list[dict]:
    if not submission:
        return []
    used = used_logs(submission, runs, found)
    if used is None:  # a per-seed score without its log: already a fail, and the logs' mean would mislead
        return []
    if not used:
        found.add("means", "fail", "no finished log backs the submission's score")
        return []
    unscored = [r["log"] for r in used if r.get("val_bpb") is None]
    if unscored:
        found.add("means", "fail", f"submission.json counts {', '.join(unscored)}, which end(s) without a final score")
        return []
    rows = [{"seed": r.get("seed"), "val_bpb": r["val_bpb"], "val_loss": r.get("val_loss")} for r in used]
    for key in ("val_bpb", "val_loss"):
        stated = submission.get(key)
        if not summarize.finite_number(stated):
            continue
        values = [r[key] for r in rows]
        if any(v is None for v in values):
            found.add("means", "warn", f"{key}: some logs give no {key}")
            continue
        mean = statistics.fmean(values)
        tol = 0.5 * 10 ** -decimals_of(stated) + 1e-9
        if abs(mean - stated) <= tol:
            found.add("means", "ok", f"{key} {stated} = mean of {len(values)} log(s) ({mean:.8f})")
        else:
            found.add("means", "fail", f"submission.json {key} {stated}, but the mean of its {len(values)} log(s) is {mean:.8f}")
    return rows


def check_significance(found: Findings, new: list[dict], against: list[Path], track: str):
    try:
        import scipy.stats  # noqa: F401
    except ImportError:
        found.add("significance_readme", "warn", "needs scipy: pip install scipy")
        return
    try:
        ref = load_reference(against)
    except summarize.InputError as exc:
        found.add("significance_readme", "warn", f"reference unreadable: {exc}")
        return
    strict = "fail" if track == RECORD_TRACK else "warn"
    notes = sorted({r["val_loss_from"] for r in ref if "val_loss_from" in r})
    if notes:
        found.add("significance_readme", "ok", f"the reference gives val_bpb only; its val_loss is {'; '.join(notes)}")
    ratios = [statistics.median(r["val_loss"] / r["val_bpb"] for r in rows if r.get("val_loss") and r.get("val_bpb"))
              if any(r.get("val_loss") and r.get("val_bpb") for r in rows) else None for rows in (new, ref)]
    if None not in ratios and abs(ratios[0] - ratios[1]) > 1e-4 * ratios[1]:
        found.add("significance_readme", "warn", f"val_loss / val_bpb is {ratios[0]:.6f} here and {ratios[1]:.6f} in the reference: "
                                                 "different tokenizers or validation sets, so nats per token do not compare (bpb does)")
    if all(r.get("val_loss") is not None for r in new):
        try:
            result = summarize.compare(new, ref, "new", "reference")
            found.add("significance_readme", "ok" if result["record"] else "warn",
                      f"README rule (>= {summarize.RECORD_MARGIN_NATS} nats at p < {summarize.RECORD_P_VALUE}, Welch one-sided): "
                      f"delta_nats {result['delta_nats']:+.6f}, p {result['p_value']:.4g}: {result['verdict']}")
        except summarize.InputError as exc:
            found.add("significance_readme", "warn", str(exc))
    else:
        found.add("significance_readme", "warn", "the folder's logs give no val_loss (nats)")
    try:
        review = summarize.compare_review(new, ref)
        found.add("significance_review", "ok" if review["passed"] else strict,
                  f"review practice (openai/parameter-golf#1902: Welch one-sided, p < {summarize.REVIEW_P_VALUE}, reproductions pooled): "
                  f"{len(new)} vs {len(ref)} seeds, {review['verdict']}")
    except summarize.InputError as exc:
        found.add("significance_review", strict, str(exc))


def load_reference(paths: list[Path]) -> list[dict]:
    """summarize.load_reference, where a records folder stands for its submission.json."""
    expanded = []
    for p in paths:
        p = Path(p)
        expanded.append(p / "submission.json" if p.is_dir() else p)
    return summarize.load_reference(expanded)


# -----------------------------------------------------------------------------
# Building a folder
# -----------------------------------------------------------------------------


def gather_logs(inputs: list[Path]) -> tuple[list[Path], Path | None]:
    """Seed logs from run folders (seed*.log first, else every log) and files; the first run
    folder's train_gpt.py, if any."""
    logs, code = [], None
    for p in inputs:
        if p.is_dir():
            found = sorted(p.glob("seed*.log")) or find_logs(p)
            if not found:
                raise RecordError(f"{p}: no seed logs (seed*.log, or *.log/*.txt with val_bpb)")
            logs += found
            if code is None and (p / "train_gpt.py").is_file():
                code = p / "train_gpt.py"
        elif p.is_file():
            logs.append(p)
        else:
            raise RecordError(f"{p}: no such file or folder")
    unique, seen = [], {}
    for log in logs:  # a run's stdout capture and its logs/<RUN_ID>.txt hold the same lines: keep one
        digest = hashlib.sha256(log.read_bytes()).hexdigest()
        if digest in seen:
            print(f"note: {log} repeats {seen[digest]}; taken once")
            continue
        seen[digest] = log
        unique.append(log)
    return unique, code


def verify_code(code: Path, runs: list[dict]):
    data = code.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    shas = {}
    for r in runs:
        shas.setdefault(r.get("code_sha256") or "", []).append(r["log"])
    hashed = {h: names for h, names in shas.items() if h}
    if len(hashed) > 1:
        raise RecordError("the logs ran different code: " + "; ".join(f"sha256 {h[:12]}... ({', '.join(n)})" for h, n in hashed.items()))
    if hashed and sha not in hashed:
        (other, names), = hashed.items()
        raise RecordError(f"{code} has sha256 {sha}, but {', '.join(names)} ran sha256 {other}: pass the script that ran "
                          f"with --code (run_8xh100.sh keeps it as runs/<tag>/train_gpt.py)")
    if "" in shas:
        sizes = {r.get("bytes_code") for r in runs if not r.get("code_sha256")} - {None}
        if sizes and sizes != {len(data)}:
            raise RecordError(f"{code} is {len(data)} bytes, but {', '.join(shas[''])} counted {sorted(sizes)} bytes of code")
        print(f"warning: {', '.join(shas[''])} carry no sha256 line; only the code size could be compared", file=sys.stderr)


def load_script(path: Path):
    """Imports a train_gpt.py (plain or compressed) as a module, for its defaults."""
    name = "pgolf_record_code_" + hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def nondefault_env(tg, run: dict) -> dict:
    """The smallest set of variables that reproduces the log's hyperparameters line with this
    script's defaults for the log's profile and device (per-seed keys left out)."""
    logged = {k: v for k, v in run["settings"].items() if k not in PER_SEED_KEYS}
    knobs = {f.name: f for f in tg.Hyperparameters.knobs()}
    cuda = run.get("device") == "cuda"
    base = {"CONFIG_PROFILE": run["profile"]} if run.get("profile") else {}

    def rendered(env: dict) -> dict:
        cfg = tg.Hyperparameters.from_env(env={**base, **env}, cuda=cuda)
        return {n: str(getattr(cfg, n)) for n in knobs}

    target = {k: v for k, v in logged.items() if k in knobs}
    defaults = rendered({})
    env = {k.upper(): v for k, v in target.items() if v != defaults[k] and k != "config_profile"}
    for key in reversed(list(env)):  # drop what the others imply (SHARED_BLOCKS from NUM_LAYERS, ...)
        trial = {k: v for k, v in env.items() if k != key}
        try:
            same = all(rendered(trial)[k] == v for k, v in target.items())
        except Exception:  # noqa: BLE001 - a combination the script refuses is simply not smaller
            same = False
        if same:
            env = trial
    out = {}
    if run.get("profile_set"):
        out["CONFIG_PROFILE"] = run["profile"]
    for k, v in env.items():
        kind = knobs[k.lower()].type
        out[k] = ("1" if v == "True" else "0") if kind in ("bool", bool) else v
    unknown = sorted(set(logged) - set(knobs))
    if unknown:
        out["# not settings of --code"] = ", ".join(unknown)
    return out


def portable(value: str, folder: Path) -> str:
    """An absolute path inside the working directory (the repository the folder is built in),
    written relative to the records folder when that is inside it too, so the command runs from
    the folder in any clone."""
    path, root = Path(value), Path.cwd().resolve()
    if path.is_absolute() and path.is_relative_to(root) and folder.resolve().is_relative_to(root):
        return os.path.relpath(path, folder.resolve())
    return value


def command_line(env: dict, run: dict, folder: Path) -> str:
    launcher = (f"torchrun --standalone --nproc_per_node={run['world_size']} train_gpt.py" if run.get("world_size", 1) > 1
                else "python train_gpt.py")
    parts = ["SEED=<seed>"] + [f"{k}={shlex.quote(portable(v, folder))}" for k, v in env.items() if not k.startswith("#")]
    return " ".join(parts + [launcher])


def slug(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")
    if not s:
        raise RecordError(f"--name {name!r} gives an empty folder name")
    return s


def seconds(ms) -> str:
    return f"{ms / 1000:.1f} s" if ms is not None else "n/a"


def significance_text(summary_rows: list[dict], against: list[Path]) -> list[str]:
    try:
        import scipy.stats  # noqa: F401
    except ImportError:
        raise RecordError("--against needs scipy: pip install scipy") from None
    try:
        ref = load_reference(against)
        result = summarize.compare(summary_rows, ref, "new", "reference")
        review = summarize.compare_review(summary_rows, ref)
    except summarize.InputError as exc:
        raise RecordError(f"--against: {exc}") from None
    bpb = f"{result['delta_bpb']:+.8f}" if result["delta_bpb"] is not None else "n/a"
    notes = sorted({r["val_loss_from"] for r in ref if "val_loss_from" in r})
    lines = [
        f"Against {', '.join(str(p) for p in against)} ({len(ref)} reference seed(s), pooled; {len(summary_rows)} new):",
        "",
        f"- delta val_bpb (new - reference): {bpb}; delta val_loss: {result['delta_nats']:+.8f} nats",
        f"- challenge README rule (>= {summarize.RECORD_MARGIN_NATS} nats better at p < {summarize.RECORD_P_VALUE}; "
        f"Welch's one-sided t-test on val_loss - {summarize.RECORD_MARGIN_NATS}): p = {result['p_value']:.4g}, {result['verdict']}",
        f"- review practice (openai/parameter-golf PR #1902: one-sided Welch t-test against the previous record, "
        f"p < {summarize.REVIEW_P_VALUE}): p = {review['p_value']:.4g} on {review['metric']}, {review['verdict']}",
    ]
    if notes:
        lines.append(f"- the reference gives val_bpb only; its val_loss is {'; '.join(notes)}")
    return lines


def build(args) -> int:
    logs, run_code = gather_logs(args.inputs)
    runs = [read_log(p) for p in logs]
    code = args.code or run_code or Path("train_gpt.py")
    if not code.is_file():
        raise RecordError(f"--code {code}: no such file")
    verify_code(code, runs)
    track = args.track
    if track == "auto":
        h100x8 = all(r.get("device") == "cuda" and r.get("world_size") == 8 and "H100" in (r.get("gpu") or "") for r in runs)
        track = RECORD_TRACK if h100x8 else "non_record_16mb"
        print(f"track: {track} ({'every log ran on 8xH100' if h100x8 else 'not every log ran on 8xH100'})")
    date = args.date or time.strftime("%Y-%m-%d", time.gmtime())
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        raise RecordError(f"--date {date!r}: use YYYY-MM-DD")
    folder = args.out / f"track_{track}" / f"{date}_{slug(args.name)}"
    meta = {"author": args.author, "github_id": args.github_id, "name": args.name, "blurb": args.blurb,
            "date": date, "track": track}
    sig = None
    if args.against:  # before anything is written: a bad reference leaves no half-built folder
        first = summarize.summarize(logs, meta)
        sig = significance_text([{"seed": r.get("seed"), "val_loss": r["val_loss"], "val_bpb": r["val_bpb"]}
                                 for r in first["seed_results"] if r["valid"]], args.against)
    if folder.exists():
        if not args.force:
            raise RecordError(f"{folder} already exists: pass --force to replace it")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)

    shutil.copyfile(code, folder / "train_gpt.py")
    requirements = args.requirements or (code.parent / "requirements.txt" if (code.parent / "requirements.txt").is_file() else Path("requirements.txt"))
    if requirements.is_file():
        shutil.copyfile(requirements, folder / "requirements.txt")
    else:
        print(f"warning: no {requirements}; the folder has no requirements.txt", file=sys.stderr)
    copied, taken = [], set()
    for r in runs:
        base = f"train_seed{r['seed']}" if r.get("seed") is not None else Path(r["log"]).stem
        name, k = f"{base}.log", 2
        while name in taken:
            name, k = f"{base}_{k}.log", k + 1
        taken.add(name)
        shutil.copyfile(r["path"], folder / name)
        copied.append(folder / name)
    summary = summarize.summarize(copied, meta)
    (folder / "submission.json").write_text(json.dumps(summary, indent=2) + "\n")
    import plot_logs

    curves = plot_logs.main([*map(str, copied), "--out", str(folder / "curves.png")]) == 0
    runs_by_log = {p.name: read_log(p) for p in copied}
    (folder / "README.md").write_text(readme(args, folder, code, summary, runs_by_log, track, sig, curves))
    print(f"wrote {folder}")
    print(f"== python tools/make_record.py --check {folder}" + (" --against " + " ".join(map(str, args.against)) if args.against else ""))
    found = check_folder(folder, args.against)
    return report(found)


def readme(args, folder: Path, code: Path, summary: dict, runs: dict, track: str, sig, curves: bool) -> str:
    data = (folder / "train_gpt.py").read_bytes()
    inner = decode_wrapper(data)
    record = track == RECORD_TRACK
    title = args.name + ("" if record else " (non-record)")
    out = [f"# {title}", ""]
    if args.blurb:
        out += [args.blurb, ""]
    if not summary["valid"]:
        out += ["**No seed finished validly; see the problems below.**", ""]
    else:
        out += [f"**val_bpb {summary['val_bpb']:.8f}** (mean of the {len(summary['seeds'])} valid seed(s), std {summary['val_bpb_std']:.8f}; "
                f"val_loss {summary['val_loss']:.8f} nats), track `{track}`, by {args.author or 'unnamed'}"
                + (f" (@{args.github_id})" if args.github_id else "") + ".", ""]
    out += ["## Results", "", "Every number is read from the logs beside this file.", "",
            "| seed | steps | train time | eval time | val_loss | val_bpb | bytes_total | log |", "|---|---|---|---|---|---|---|---|"]
    for r in summary["seed_results"]:
        flag = "" if r["valid"] else " (" + "; ".join(r["problems"]) + ")"
        loss = f"{r['val_loss']:.8f}" if r.get("val_loss") is not None else "n/a"
        bpb = f"{r['val_bpb']:.8f}" if r.get("val_bpb") is not None else "n/a"
        out.append(f"| {r.get('seed')} | {r.get('steps', 'n/a')} | {seconds(r.get('train_time_ms'))} | {seconds(r.get('eval_time_ms'))} | "
                   f"{loss} | {bpb} | {r.get('bytes_total', 'n/a')} | `{r['log']}`{flag} |")
    if summary["valid"]:
        out.append(f"| **mean** | | | | {summary['val_loss']:.8f} | {summary['val_bpb']:.8f} | {summary['bytes_total']} (max) | |")
    out += [""]
    if curves:
        out += ["![train and validation loss against training time](curves.png)", ""]

    first = next(iter(runs.values()))
    torch_versions = sorted({r.get("torch") for r in runs.values() if r.get("torch")})
    out += ["## Hardware", "", f"{summary['hardware']} (from the logs' `device:` lines); torch {', '.join(torch_versions) or 'n/a'}.", ""]
    if not record:
        out += ["This is a non-record submission: " + ("it did not run on 8xH100, so its times say nothing about the 10-minute limits."
                                                     if first.get("device") != "cuda" else "see above for why."), ""]

    out += ["## Code", "", f"`train_gpt.py`: {len(data)} bytes, sha256 `{hashlib.sha256(data).hexdigest()}`, the file every log's "
            "`code bytes:` line names (the tool refuses a script whose hash differs)."]
    if inner is not None:
        out += ["It is a compressed wrapper (lzma + base85) of a "
                f"{len(inner)}-byte source with sha256 `{hashlib.sha256(inner).hexdigest()}`; it runs that source as itself, "
                "so the bytes counted are the wrapper's. Read the source with "
                "`python3 tools/make_record.py --decompress-code train_gpt.py` or the standard-library line in its header."]
    out += [""]

    out += ["## Command", ""]
    with_settings = [r for r in runs.values() if r.get("settings")]
    if not with_settings:
        out += ["The logs carry no `hyperparameters` line.", ""]
    else:
        try:
            tg = load_script(folder / "train_gpt.py")
            envs = {}
            for r in with_settings:
                envs.setdefault(json.dumps(nondefault_env(tg, r)), []).append(r["log"])
            out += ["Run inside this folder, once per seed in the table (each seed's `SEED`; `RUN_ID` and `ARTIFACT_PATH` only "
                    "name the outputs). Variables are the ones that differ from this `train_gpt.py`'s defaults for the "
                    f"`{first.get('profile')}` profile, read from each log's `hyperparameters` line (paths inside the repository "
                    "this folder was built in are written relative to this folder):", ""]
            for env_json, names in envs.items():
                env = json.loads(env_json)
                if len(envs) > 1:
                    out += [f"{', '.join(names)}:", ""]
                out += ["```bash", command_line(env, runs[names[0]], folder), "```", ""]
                if "# not settings of --code" in env:
                    out += [f"Logged settings this script does not have: {env['# not settings of --code']}.", ""]
        except Exception as exc:  # noqa: BLE001 - a script that does not import still gets its logged settings
            out += [f"(The defaults could not be read from train_gpt.py: {type(exc).__name__}: {exc}; every logged setting follows.)", "",
                    "```", " ".join(f"{k}:{v}" for k, v in with_settings[0]["settings"].items()), "```", ""]
    if sig:
        out += ["## Significance", ""] + sig + [""]
    out += ["## Files", "",
            "- `train_gpt.py`: the script that produced the logs", "- `requirements.txt`: its Python packages",
            "- `train_seed<seed>.log`: each seed's log", "- `submission.json`: the summary, every number from the logs (tools/summarize.py)",
            ] + (["- `curves.png`: train and validation loss against training time (tools/plot_logs.py)"] if curves else []) + [
            "", "## How this folder was made", "",
            "```bash", "python " + " ".join(shlex.quote(a) for a in ["tools/make_record.py", *sys.argv[1:]]), "```", "",
            "and checked with `python tools/make_record.py --check <this folder>` (files, submission fields, code hash, bytes, "
            "finished seeds, time limits, identical settings, seed count, means" + (", significance" if sig else "") + ").", ""]
    return "\n".join(out)


def report(found: Findings) -> int:
    counts = {s: sum(1 for _, st, _ in found.rows if st == s) for s in ("ok", "warn", "fail")}
    print(f"checks: {counts['ok']} ok {counts['warn']} warn {counts['fail']} fail")
    return 1 if counts["fail"] else 0


# -----------------------------------------------------------------------------


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="See the module docstring (python -c 'import tools.make_record as m; help(m)') for what each mode does.")
    p.add_argument("inputs", nargs="*", type=Path, help="run folders (seed*.log inside) or seed log files")
    p.add_argument("--compress-code", type=Path, metavar="SCRIPT", help="write a self-extracting compressed SCRIPT to -o")
    p.add_argument("--decompress-code", type=Path, metavar="WRAPPER", help="print (or write to -o) the source inside a compressed script")
    p.add_argument("--check", type=Path, metavar="FOLDER", help="check a records folder; exit 1 on any fail")
    p.add_argument("-o", "--out", type=Path, help="records root for a build (default: records), or the output file")
    p.add_argument("--name", help="the submission's name; the folder is <date>_<name> with other characters as _")
    p.add_argument("--author", default="")
    p.add_argument("--github-id", default="")
    p.add_argument("--blurb", default="")
    p.add_argument("--track", default=None, choices=("auto", *TRACKS),
                   help="build: auto (default: 10min_16mb when every log ran on 8xH100) | 10min_16mb | non_record_16mb; "
                        "check: override the track read from the folder")
    p.add_argument("--date", default="", help="YYYY-MM-DD (default: today, UTC)")
    p.add_argument("--code", type=Path, help="the script that ran (default: the run folder's train_gpt.py, else ./train_gpt.py)")
    p.add_argument("--requirements", type=Path, help="default: requirements.txt beside --code, else ./requirements.txt")
    p.add_argument("--against", nargs="+", type=Path, metavar="REF",
                   help="reference records folder(s), submission.json or seed logs, pooled: both significance readings")
    p.add_argument("--force", action="store_true", help="replace an existing records folder of the same track, date and name")
    args = p.parse_args(argv)
    modes = [m for m in (args.compress_code, args.decompress_code, args.check) if m is not None]
    if len(modes) > 1 or (modes and args.inputs):
        p.error("use one of: --compress-code, --decompress-code, --check, or run folders/logs to build")
    try:
        if args.compress_code:
            if args.out is None:
                p.error("--compress-code needs -o <file>")
            wrapper = compress_code(args.compress_code.read_bytes())
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_bytes(wrapper)
            size = args.compress_code.stat().st_size
            print(f"compressed {args.compress_code} ({size} bytes) -> {args.out} ({len(wrapper)} bytes, {size - len(wrapper)} saved) "
                  f"sha256:{hashlib.sha256(wrapper).hexdigest()}")
            return 0
        if args.decompress_code:
            source = decode_wrapper(args.decompress_code.read_bytes())
            if source is None:
                raise RecordError(f"{args.decompress_code} is not a compressed wrapper (no lzma + base85 payload)")
            if args.out:
                args.out.write_bytes(source)
            else:
                sys.stdout.write(source.decode("utf-8", errors="replace"))
            return 0
        if args.check:
            return report(check_folder(args.check, args.against, None if args.track == "auto" else args.track))
        if not args.inputs:
            p.error("give run folders or seed logs to build a records folder (or --check/--compress-code/--decompress-code)")
        if not args.name:
            p.error("--name is required to build a records folder")
        args.out = args.out or Path("records")
        args.track = args.track or "auto"
        return build(args)
    except (RecordError, summarize.InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
