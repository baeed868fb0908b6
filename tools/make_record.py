"""Builds a challenge records folder from seed logs, and checks any records folder as reviewers do.

    python tools/make_record.py runs/<tag> --name NAME --author AUTHOR --github-id ID [--against REF ...]
    python tools/make_record.py --check records/track_10min_16mb/<date>_<name> [--against REF ...]

The challenge (openai/parameter-golf README, "Submission Process"): one new folder under
records/track_10min_16mb (records) or track_non_record_16mb with README.md, submission.json (author,
github_id, val_bpb, ...), the train logs (most often 3 seeds) and train_gpt.py, which holds all
counted code and runs inside the folder; code + compressed model <= 16,000,000 bytes; training and
evaluation 10 minutes each on 8xH100. A build refuses code that is not what every log ran (`code
bytes:` sha256, else size), writes <-o>/track_<track>/<date>_<name>/ (the logs as
train_seed<seed>.log, submission.json, curves.png, a README.md with the results, hardware, command
and with --against the significance readings of tools/summarize.py), then checks it. --check reads
only the folder, its logs through tools/logs.py, and prints `check:<name> ok|warn|fail <detail>`
rows, then `checks: <n> ok <n> warn <n> fail`. Exit status: 1 on a fail, 2 on bad input (`error:`).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compress_code  # noqa: E402
import logs  # noqa: E402
import plot_logs  # noqa: E402
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


class RecordError(ValueError):
    """Input that cannot make a records folder: printed as `error: ...`, exit status 2."""


# ---- The model of a records folder -------------------------------------------


@dataclass
class RecordFolder:
    """A records folder: read back from disk by --check, or assembled from runs by a build, which
    writes it and then checks what it wrote. The checks see nothing else."""

    path: Path
    names: set = field(default_factory=set)  # the files directly in the folder
    code: bytes | None = None  # its train_gpt.py
    runs: list = field(default_factory=list)  # tools/logs.py facts of each log; `log` is its path in the folder
    submission: dict = field(default_factory=dict)
    submission_error: str = ""  # why submission.json is absent or not a JSON object
    track: str = RECORD_TRACK
    track_from: str = ""  # where --check read the track

    @classmethod
    def read(cls, path: Path, track: str | None = None) -> RecordFolder:
        names = {p.name for p in path.iterdir() if p.is_file()}
        code = (path / "train_gpt.py").read_bytes() if "train_gpt.py" in names else None
        runs = [{**logs.read(p), "log": str(p.relative_to(path))} for p in logs.find_logs(path)]
        submission, error = read_submission(path / "submission.json")
        return cls(path, names, code, runs, submission, error, *folder_track(path, submission, track))

    @property
    def finished(self) -> list[dict]:
        return [r for r in self.runs if r.get("val_bpb") is not None and not r.get("abort")]

    def write(self, requirements: Path | None):
        """Everything but curves.png and README.md; the logs are copied from their `path`."""
        self.path.mkdir(parents=True)
        (self.path / "train_gpt.py").write_bytes(self.code)
        if requirements:
            shutil.copyfile(requirements, self.path / "requirements.txt")
        for r in self.runs:
            shutil.copyfile(r["path"], self.path / r["log"])
        (self.path / "submission.json").write_text(json.dumps(self.submission, indent=2) + "\n")


def read_submission(path: Path) -> tuple[dict, str]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}, "no submission.json"
    except (OSError, ValueError) as exc:
        return {}, f"submission.json is not a JSON object: {exc}"
    if not isinstance(data, dict):
        return {}, f"submission.json is not a JSON object: a JSON {type(data).__name__}, not an object"
    return data, ""


def folder_track(folder: Path, submission: dict, override: str | None) -> tuple[str, str]:
    """The track to check a folder as, and where it was read: --track, the folder's path, submission.json."""
    if override:
        return override, "--track"
    for part in (folder.parent.name, folder.name):
        if part.startswith("track_") and part.removeprefix("track_") in TRACKS:
            return part.removeprefix("track_"), f"folder {part}"
    if submission.get("track") in TRACKS:
        return submission["track"], "submission.json track"
    return RECORD_TRACK, "not stated: checked as the record track"


# ---- --check -----------------------------------------------------------------


class Findings(list):
    """The check's (name, status, detail) rows, in the order found."""

    def add(self, name: str, status: str, detail: str):
        self.append((name, status, detail))

    def verdict(self, name: str, fail: str, ok: str, lacking: list[dict] = (), missing: str = ""):
        """A check's usual rows: the fail, else the ok (when given), then a warning naming the logs lacking its fact."""
        if fail or ok:
            self.add(name, "fail" if fail else "ok", fail or ok)
        if lacking:
            self.add(name, "warn", f"{listed(lacking)}: {missing}")


def listed(runs: list[dict]) -> str:
    return ", ".join(r["log"] for r in runs)


def report(found: Findings) -> int:
    for name, status, detail in found:
        print(f"check:{name} {status} {detail}")
    counts = {s: sum(1 for _, st, _ in found if st == s) for s in ("ok", "warn", "fail")}
    print(f"checks: {counts['ok']} ok {counts['warn']} warn {counts['fail']} fail")
    return 1 if counts["fail"] else 0


def check(path: Path, against: list[Path] | None = None, track: str | None = None) -> Findings:
    found = Findings()
    if not Path(path).is_dir():
        found.add("files", "fail", f"{path} is not a folder")
        return found
    folder = RecordFolder.read(Path(path), track)
    check_files(found, folder)
    check_submission(found, folder)
    if folder.code is None:
        found.add("code_hash", "fail", "no train_gpt.py")
    else:  # the size checks compare with the shipped script, so they need one
        for step in (check_code_hash, check_bytes_code, check_bytes_total):
            step(found, folder)
    for step in (check_finished, check_times, check_settings, check_hardware, check_seeds):
        step(found, folder)
    new = check_means(found, folder)
    if against:
        check_significance(found, new, against, folder.track)
    return found


def check_files(found: Findings, folder: RecordFolder):
    missing = [n for n in REQUIRED_FILES if n not in folder.names]
    missing += [] if folder.runs else ["a train log (*.log or *.txt with val_bpb)"]
    found.verdict("files", missing and "missing: " + ", ".join(missing),
                  f"{', '.join(REQUIRED_FILES)} and {len(folder.runs)} log(s)")
    if "requirements.txt" not in folder.names:
        found.add("files", "warn", "no requirements.txt (the challenge asks for one when the script imports packages)")
    if others := sorted(n for n in folder.names if n.endswith(".py") and n != "train_gpt.py"):
        found.add("other_code", "warn", f"other Python files: {', '.join(others)}; the challenge counts only train_gpt.py "
                                        "as code, so code they hold that train_gpt.py runs is uncounted")


def check_submission(found: Findings, folder: RecordFolder):
    s = folder.submission
    absent = [k for k in REQUIRED_FIELDS if k not in s]
    fail = folder.submission_error or (absent and f"missing {', '.join(absent)}") or \
        (not summarize.finite_number(s["val_bpb"]) and f"val_bpb is not a number: {s['val_bpb']!r}")
    found.verdict("submission_fields", fail, ", ".join(REQUIRED_FIELDS) + " present")
    empty = [k for k in ("author", "github_id", "name") if k in s and not str(s[k]).strip()]
    lacking = [k for k in EXPECTED_FIELDS if k not in s]
    notes = [f"{what}: {', '.join(keys)}" for what, keys in (("empty", empty), ("absent", lacking)) if keys]
    if notes and not folder.submission_error:
        found.add("submission_fields", "warn", "; ".join(notes))


def check_code_hash(found: Findings, folder: RecordFolder):
    """Each log ran the folder's train_gpt.py: its sha256 line says so, or it embeds the source (the baseline logs it)."""
    sha = hashlib.sha256(folder.code).hexdigest()
    hashed = [r for r in folder.runs if r.get("code_sha256")]
    unhashed = [r for r in folder.runs if not r.get("code_sha256")]
    sources = [s.strip() for s in compress_code.sources(folder.code) if s.strip()] if unhashed else []
    embedded = [r for r in unhashed if any(s in r["path"].read_text(errors="replace") for s in sources)]
    bad = [f"{r['log']} ran sha256 {r['code_sha256'][:12]}..." for r in hashed if r["code_sha256"] != sha]
    ok = ([f"{len(hashed)} log(s) ran sha256 {sha[:12]}..., the folder's train_gpt.py"] if hashed else []) + \
         ([f"{len(embedded)} log(s) embed its source"] if embedded else [])
    found.verdict("code_hash", bad and f"train_gpt.py has sha256 {sha[:12]}..., but " + "; ".join(bad), "; ".join(ok),
                  [r for r in unhashed if r not in embedded],
                  "no sha256 line and no embedded source, so the code that ran is unproven")


def check_bytes_code(found: Findings, folder: RecordFolder):
    size, counted = len(folder.code), [r for r in folder.runs if "bytes_code" in r]
    problems = [f"{r['log']} counted {r['bytes_code']}" for r in counted if r["bytes_code"] != size]
    if folder.submission.get("bytes_code", size) != size:
        problems.append(f"submission.json says {folder.submission['bytes_code']}")
    compressed = " (the logs count a compressed size of the code; the challenge counts train_gpt.py as shipped)" \
        if any(r.get("bytes_code_compressed") for r in folder.runs) else ""
    found.verdict("bytes_code", problems and f"train_gpt.py is {size} bytes, but " + "; ".join(problems) + compressed,
                  counted and f"train_gpt.py is {size} bytes, as every log counted",
                  [r for r in folder.runs if "bytes_code" not in r], "no code size line")


def check_bytes_total(found: Findings, folder: RecordFolder):
    """Each log's total is within the limit and is its code plus model bytes (the shipped code's, if it gives none)."""
    size, sized, problems = len(folder.code), [r for r in folder.runs if "bytes_total" in r], []
    for r in sized:
        total, model, code = r["bytes_total"], r.get("bytes_model"), r.get("bytes_code")
        if total > BYTE_LIMIT:
            problems.append(f"{r['log']}: {total} > {BYTE_LIMIT}")
        elif model is not None and code is not None and total != code + model:
            problems.append(f"{r['log']}: bytes_total {total} != code {code} + model {model}")
        elif model is not None and code is None and total != size + model:
            problems.append(f"{r['log']}: shipped code {size} + model {model} = {size + model}, not {total}")
    if summarize.finite_number(total := folder.submission.get("bytes_total")) and total > BYTE_LIMIT:
        problems.append(f"submission.json bytes_total {total} > {BYTE_LIMIT}")
    largest = max((r["bytes_total"] for r in sized), default=0)
    found.verdict("bytes_total", "; ".join(problems),
                  sized and f"code + model <= {BYTE_LIMIT} in {len(sized)} log(s) (largest {largest})",
                  [r for r in folder.runs if "bytes_total" not in r and r.get("val_bpb") is not None], "no total size line")


def check_finished(found: Findings, folder: RecordFolder):
    """Every log is a finished run: no abort, and a finite final score."""
    if unreadable := [f"{r['log']}: unreadable {r['unreadable']}" for r in folder.runs if r.get("unreadable")]:
        found.add("finished", "warn", "; ".join(unreadable))
    problems = [f"{r['log']}: {why}" for r in folder.runs if (why := logs.unfinished(r))]
    found.verdict("finished", "; ".join(problems),
                  folder.runs and f"{len(folder.runs)} of {len(folder.runs)} log(s) end with a finite final score and no abort")


def check_times(found: Findings, folder: RecordFolder):
    for key, name, what in (("train_time_ms", "train_time", "training"), ("eval_time_ms", "eval_time", "evaluation")):
        timed = [r for r in folder.runs if key in r]
        over = [f"{r['log']}: {r[key]:.0f} ms" for r in timed if r[key] > TIME_LIMIT_MS]
        source = sorted({r.get("eval_time_from") for r in timed} - {None}) if key == "eval_time_ms" else []
        longest = max((r[key] for r in timed), default=0) / 1000
        ok = timed and f"{what} <= {TIME_LIMIT_MS // 1000} s in {len(timed)} log(s) (longest {longest:.1f} s" \
            + (f"; from {', '.join(source)})" if source else ")")
        found.verdict(name, over and f"{what} over {TIME_LIMIT_MS // 1000} s: " + "; ".join(over), ok,
                      [r for r in folder.runs if key not in r and r.get("val_bpb") is not None], f"no {what} time")


def comparable_settings(run: dict) -> tuple[dict, dict]:
    """(settings, paths) of a log without what may differ per seed: seed, run id, artifact and dump
    paths, the log's own path, and paths that name the seed; values holding the run id compare with
    it replaced. Paths come apart: where a machine keeps its data says nothing certain about the settings."""
    settings = dict(run.get("settings") or {})
    run_id, seed = settings.get("run_id", ""), str(run.get("seed", settings.get("seed", "")))
    out, paths = {}, {}
    for key, value in settings.items():
        if key in PER_SEED_KEYS or key in ("logfile", "rank", "local_rank"):
            continue
        value = value.replace(run_id, "<run_id>") if run_id else value
        if not re.match(r"(\.{0,2}/|~/|[A-Za-z]:\\)\S*$", value):
            out[key] = value
        elif not (seed and re.search(rf"(?<![0-9]){re.escape(seed)}(?![0-9])", value)):
            paths[key] = value
    return out, paths


def differences(a: dict, b: dict) -> str:
    """The first eight settings in which b differs from a, and how many more."""
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    shown = ", ".join(f"{k}={b.get(k, '(absent)')} not {a.get(k, '(absent)')}" for k in keys[:8])
    return shown + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")


def check_settings(found: Findings, folder: RecordFolder):
    have = [r for r in folder.runs if r.get("settings")]
    if not have:
        if folder.runs:
            found.add("settings", "warn", "no log states its settings")
        return
    first, diffs, path_diffs = comparable_settings(have[0]), [], []
    for r in have[1:]:
        for bucket, a, b in zip((diffs, path_diffs), first, comparable_settings(r)):
            if d := differences(a, b):
                bucket.append(f"{r['log']} vs {have[0]['log']}: {d}")
    if path_diffs:
        found.add("settings", "warn", "paths differ (data may differ too): " + "; ".join(path_diffs))
    same = (f"{len(have)} log(s) ran the same settings apart from seed, run id and output paths "
            f"(read from {have[0]['settings_from']})")
    found.verdict("settings", "; ".join(diffs), same, [r for r in folder.runs if not r.get("settings")], "no settings lines")


def on_8xh100(runs: list[dict]) -> bool:
    return all(r.get("device") == "cuda" and r.get("world_size") == 8 and "H100" in (r.get("gpu") or "") for r in runs)


def check_hardware(found: Findings, folder: RecordFolder):
    """From our `device:` lines; the challenge's logs do not say it in one line."""
    devices = {(r.get("device"), r.get("world_size"), r.get("gpu")) for r in folder.runs if r.get("device")}
    if devices:
        runs = [{"device": d, "world_size": w, "gpu": g} for d, w, g in sorted(devices, key=str)]
        h100x8 = on_8xh100(runs)
        found.add("hardware", "ok" if h100x8 else "warn", "; ".join(map(summarize.hardware, runs))
                  + ("" if h100x8 else " (the record track's limits are for 8xH100)"))


def check_seeds(found: Findings, folder: RecordFolder):
    seeds = [r.get("seed") for r in folder.finished]
    distinct, unknown = sorted({s for s in seeds if s is not None}), seeds.count(None)
    detail = f"track {folder.track} ({folder.track_from}): {len(distinct)} distinct seed(s) {distinct}" + \
        (f" and {unknown} log(s) without a seed" if unknown else "")
    if folder.track == RECORD_TRACK and len(distinct) < MIN_RECORD_SEEDS:
        found.add("seeds", "fail", detail + f"; a record needs at least {MIN_RECORD_SEEDS}")
    elif len(distinct) < len(seeds) - unknown:
        found.add("seeds", "warn", detail + "; some seeds repeat")
    else:
        found.add("seeds", "ok", detail)


def used_logs(found: Findings, folder: RecordFolder) -> list[dict] | None:
    """The logs behind the submission's means: ours name them (`seed_results[].log`, `valid`); the
    challenge's list per-seed val_bpb, matched to the log of that seed and score; else every
    finished log. None when a listed score has no log (a fail already)."""
    entries, s = folder.submission.get("seed_results"), folder.submission
    if isinstance(entries, list) and entries and all(isinstance(e, dict) and "log" in e for e in entries):
        by_name = {Path(r["log"]).name: r for r in folder.runs}
        for e in entries:
            if e.get("valid", True) and e["log"] not in by_name:
                found.add("means", "fail", f"submission.json names {e['log']}, which is not in the folder")
        return [by_name[e["log"]] for e in entries if e.get("valid", True) and e["log"] in by_name]
    per_seed = entries if isinstance(entries, dict) else s["seeds"] if isinstance(s.get("seeds"), dict) else None
    if not per_seed:
        return folder.finished
    out, unmatched = [], False
    for seed, e in per_seed.items():
        if not isinstance(e, dict) or not summarize.finite_number(e.get("val_bpb")):
            continue
        match = [r for r in folder.finished if summarize.same_run({"seed": seed, "val_bpb": e["val_bpb"]}, r)]
        out += match[:1]
        if not match:
            logged = [r["val_bpb"] for r in folder.finished if str(r.get("seed")) == str(seed)]
            found.add("means", "fail", f"seed {seed}: submission.json says val_bpb {e['val_bpb']}, "
                                       + (f"its logs say {logged}" if logged else "no finished log has that seed"))
            unmatched = True
    return None if unmatched else out


def check_means(found: Findings, folder: RecordFolder) -> list[dict]:
    """The submission's val_bpb and val_loss are the means of its logs; returns those logs' rows."""
    if not folder.submission or (used := used_logs(found, folder)) is None:
        return []  # None: a per-seed score without its log, already a fail; the logs' mean would mislead
    if not used:
        found.add("means", "fail", "no finished log backs the submission's score")
        return []
    if unscored := [r for r in used if r.get("val_bpb") is None]:
        found.add("means", "fail", f"submission.json counts {listed(unscored)}, which end(s) without a final score")
        return []
    rows = [{"seed": r.get("seed"), "val_bpb": r["val_bpb"], "val_loss": r.get("val_loss")} for r in used]
    for key in ("val_bpb", "val_loss"):
        stated, values = folder.submission.get(key), [r[key] for r in rows]
        if not summarize.finite_number(stated):
            continue
        if None in values:
            found.add("means", "warn", f"{key}: some logs give no {key}")
            continue
        mean = statistics.fmean(values)
        if abs(mean - stated) <= 0.5 * 10 ** -summarize.decimals(stated) + 1e-9:
            found.add("means", "ok", f"{key} {stated} = mean of {len(values)} log(s) ({mean:.8f})")
        else:
            found.add("means", "fail", f"submission.json {key} {stated}, but the mean of its {len(values)} log(s) is {mean:.8f}")
    return rows


def reference(against: list[Path]) -> list[dict]:
    """The pooled reference seeds (summarize.load_reference; a records folder stands for its
    submission.json). ImportError without scipy, which the tests need."""
    import scipy.stats  # noqa: F401

    return summarize.load_reference([Path(p) / "submission.json" if Path(p).is_dir() else Path(p) for p in against])


def check_significance(found: Findings, new: list[dict], against: list[Path], track: str):
    """Both readings of `summarize.py --against`: the README rule warns, the review practice fails a record."""
    try:
        ref = reference(against)
    except (ImportError, summarize.InputError) as exc:
        why = f"reference unreadable: {exc}" if isinstance(exc, summarize.InputError) else "needs scipy: pip install scipy"
        found.add("significance_readme", "warn", why)
        return
    strict = "fail" if track == RECORD_TRACK else "warn"
    if notes := summarize.reference_notes(ref):
        found.add("significance_readme", "ok", f"the reference gives val_bpb only; its val_loss is {'; '.join(notes)}")
    ratios = [statistics.median(r["val_loss"] / r["val_bpb"] for r in rows if r.get("val_loss") and r.get("val_bpb"))
              if any(r.get("val_loss") and r.get("val_bpb") for r in rows) else None for rows in (new, ref)]
    if None not in ratios and abs(ratios[0] - ratios[1]) > 1e-4 * ratios[1]:
        found.add("significance_readme", "warn", f"val_loss / val_bpb is {ratios[0]:.6f} here and {ratios[1]:.6f} in the "
                  "reference: different tokenizers or validation sets, so nats per token do not compare (bpb does)")
    if any(r.get("val_loss") is None for r in new):
        found.add("significance_readme", "warn", "the folder's logs give no val_loss (nats)")
    else:
        try:
            result = summarize.compare(new, ref, "new", "reference")
            found.add("significance_readme", "ok" if result["record"] else "warn",
                      f"README rule (>= {summarize.RECORD_MARGIN_NATS} nats at p < {summarize.RECORD_P_VALUE}, Welch one-sided): "
                      f"delta_nats {result['delta_nats']:+.6f}, p {result['p_value']:.4g}: {result['verdict']}")
        except summarize.InputError as exc:
            found.add("significance_readme", "warn", str(exc))
    try:
        review = summarize.compare_review(new, ref)
        found.add("significance_review", "ok" if review["passed"] else strict,
                  f"review practice (openai/parameter-golf#1902: Welch one-sided, p < {summarize.REVIEW_P_VALUE}, "
                  f"reproductions pooled): {len(new)} vs {len(ref)} seeds, {review['verdict']}")
    except summarize.InputError as exc:
        found.add("significance_review", strict, str(exc))


# ---- Building a folder -------------------------------------------------------


def gather_logs(inputs: list[Path]) -> tuple[list[Path], Path | None]:
    """Seed logs from run folders (seed*.log first, else every log) and files; the first run
    folder's train_gpt.py, if any."""
    paths, code = [], None
    for p in inputs:
        if p.is_dir():
            found = sorted(p.glob("seed*.log")) or logs.find_logs(p)
            if not found:
                raise RecordError(f"{p}: no seed logs (seed*.log, or *.log/*.txt with val_bpb)")
            paths += found
            code = code or (p / "train_gpt.py" if (p / "train_gpt.py").is_file() else None)
        elif p.is_file():
            paths.append(p)
        else:
            raise RecordError(f"{p}: no such file or folder")
    unique = {}
    for path in paths:  # a run's stdout capture and its logs/<RUN_ID>.txt hold the same lines: keep one
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in unique:
            print(f"note: {path} repeats {unique[digest]}; taken once")
        unique.setdefault(digest, path)
    return list(unique.values()), code


def seed_names(runs: list[dict]) -> list[str]:
    """train_seed<seed>.log for each log (its own name without a seed), numbered where names repeat."""
    names = []
    for r in runs:
        base = f"train_seed{r['seed']}" if r.get("seed") is not None else Path(r["log"]).stem
        name, k = f"{base}.log", 2
        while name in names:
            name, k = f"{base}_{k}.log", k + 1
        names.append(name)
    return names


def significance_text(rows: list[dict], against: list[Path]) -> list[str]:
    """The README's significance section: what `summarize.py --against` prints for these seeds."""
    try:
        lines, _ = summarize.against_lines(rows, reference(against))
    except ImportError:
        raise RecordError("--against needs scipy: pip install scipy") from None
    except summarize.InputError as exc:
        raise RecordError(f"--against: {exc}") from None
    return [f"By the challenge README rule (>= {summarize.RECORD_MARGIN_NATS} nats better at p < {summarize.RECORD_P_VALUE}) "
            f"and the review practice since openai/parameter-golf PR #1902 (p < {summarize.REVIEW_P_VALUE}), as "
            f"`python tools/summarize.py <these logs> --against {' '.join(map(str, against))}` prints it:",
            "", "```text", *lines, "```"]


def build(args) -> int:
    """Refuses bad input before anything is written (no half-built folder), writes the folder, then checks
    what it wrote as --check does."""
    paths, run_code = gather_logs(args.inputs)
    runs = [logs.read(p) for p in paths]
    code = args.code or run_code or Path("train_gpt.py")
    if not code.is_file():
        raise RecordError(f"--code {code}: no such file")
    track = args.track or (RECORD_TRACK if on_8xh100(runs) else "non_record_16mb")
    if not args.track:
        print(f"track: {track} ({'every' if track == RECORD_TRACK else 'not every'} log ran on 8xH100)")
    date = args.date or time.strftime("%Y-%m-%d", time.gmtime())
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        raise RecordError(f"--date {date!r}: use YYYY-MM-DD")
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", args.name).strip("_")
    if not name:
        raise RecordError(f"--name {args.name!r} gives an empty folder name")
    folder = RecordFolder(args.out / f"track_{track}" / f"{date}_{name}", code=code.read_bytes(), runs=runs, track=track)
    found = Findings()  # --check's code and size checks: a script other than the one that ran is an error here
    check_code_hash(found, folder)
    check_bytes_code(found, folder)
    if failures := [detail for _, status, detail in found if status == "fail"]:
        raise RecordError(f"--code {code}: " + "; ".join(failures) + ": pass the script that ran with --code "
                          "(run_8xh100.sh keeps it as runs/<tag>/train_gpt.py)")
    if unhashed := [r for r in runs if not r.get("code_sha256")]:
        print(f"warning: {listed(unhashed)} carry no sha256 line; only the code size could be compared", file=sys.stderr)
    folder.runs = [{**r, "log": n} for r, n in zip(runs, seed_names(runs))]
    meta = {"author": args.author, "github_id": args.github_id, "name": args.name, "blurb": args.blurb, "date": date,
            "track": track}
    folder.submission = summarize.summary([summarize.seed_result(r) for r in folder.runs], meta)
    valid = [r for r in folder.submission["seed_results"] if r["valid"]]
    sig = significance_text(valid, args.against) if args.against else None  # before anything is written
    if folder.path.exists():
        if not args.force:
            raise RecordError(f"{folder.path} already exists: pass --force to replace it")
        shutil.rmtree(folder.path)
    beside = code.parent / "requirements.txt"
    requirements = args.requirements or (beside if beside.is_file() else Path("requirements.txt"))
    if not requirements.is_file():
        print(f"warning: no {requirements}; the folder has no requirements.txt", file=sys.stderr)
    folder.write(requirements if requirements.is_file() else None)
    curves = plot_logs.main([*(str(folder.path / r["log"]) for r in folder.runs), "--out", str(folder.path / "curves.png")]) == 0
    (folder.path / "README.md").write_text(readme(folder, sig, curves))
    print(f"wrote {folder.path}")
    against = " --against " + " ".join(map(str, args.against)) if args.against else ""
    print(f"== python tools/make_record.py --check {folder.path}{against}")
    return report(check(folder.path, args.against))


# ---- The README --------------------------------------------------------------


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


def nondefault_env(tg, run: dict) -> tuple[dict, list[str]]:
    """The smallest set of variables that reproduces the log's hyperparameters line with this
    script's defaults for the log's profile and device (per-seed keys left out), and the logged
    settings the script does not have."""
    logged = {k: v for k, v in run["settings"].items() if k not in PER_SEED_KEYS}
    knobs = {f.name: f for f in tg.Hyperparameters.knobs()}
    base = {"CONFIG_PROFILE": run["profile"]} if run.get("profile") else {}

    def rendered(env: dict) -> dict:
        cfg = tg.Hyperparameters.from_env(env={**base, **env}, cuda=run.get("device") == "cuda")
        return {n: str(getattr(cfg, n)) for n in knobs}

    target = {k: v for k, v in logged.items() if k in knobs}
    defaults = rendered({})
    env = {k.upper(): v for k, v in target.items() if v != defaults[k] and k != "config_profile"}
    for key in reversed(list(env)):  # drop what the others imply (EVAL_SEQ_LEN from TRAIN_SEQ_LEN, ...)
        trial = {k: v for k, v in env.items() if k != key}
        try:
            same = all(rendered(trial)[k] == v for k, v in target.items())
        except Exception:  # noqa: BLE001 - a combination the script refuses is simply not smaller
            same = False
        if same:
            env = trial
    out = {"CONFIG_PROFILE": run["profile"]} if run.get("profile_set") else {}
    for k, v in env.items():
        out[k] = ("1" if v == "True" else "0") if knobs[k.lower()].type in ("bool", bool) else v
    return out, sorted(set(logged) - set(knobs))


def portable(value: str, folder: Path) -> str:
    """An absolute path inside the working directory (the repository the folder is built in),
    written relative to the records folder when that is inside it too, so the command runs from
    the folder in any clone."""
    path, root = Path(value), Path.cwd().resolve()
    if path.is_absolute() and path.is_relative_to(root) and folder.resolve().is_relative_to(root):
        return os.path.relpath(path, folder.resolve())
    return value


def readme(folder: RecordFolder, sig: list[str] | None, curves: bool) -> str:
    """The folder's README.md: results, hardware, code, command, significance, files, how it was made."""
    s, code = folder.submission, folder.code
    out = [f"# {s['name']}" + ("" if folder.track == RECORD_TRACK else " (non-record)"), ""]
    out += ([s["blurb"], ""] if s["blurb"] else []) + readme_results(folder, curves)
    torch = ", ".join(sorted({r["torch"] for r in folder.runs if r.get("torch")})) or "n/a"
    out += ["## Hardware", "", f"{s['hardware']} (from the logs' `device:` lines); torch {torch}.", ""]
    if folder.track != RECORD_TRACK:
        why = "see above for why." if folder.runs[0].get("device") == "cuda" else \
            "it did not run on 8xH100, so its times say nothing about the 10-minute limits."
        out += ["This is a non-record submission: " + why, ""]
    out += ["## Code", "", f"`train_gpt.py`: {len(code)} bytes, sha256 `{hashlib.sha256(code).hexdigest()}`, "
            "the file every log's `code bytes:` line names (the tool refuses a script whose hash differs)."]
    if (inner := compress_code.decompress(code)) is not None:
        out += ["It is a compressed wrapper (lzma + base85) of a "
                f"{len(inner)}-byte source with sha256 `{hashlib.sha256(inner).hexdigest()}`; it runs that source as itself, "
                "so the bytes counted are the wrapper's. Read the source with "
                "`python3 tools/compress_code.py -d train_gpt.py` or the standard-library line in its header."]
    out += [""] + readme_command(folder) + (["## Significance", ""] + sig + [""] if sig else [])
    command = " ".join(shlex.quote(a) for a in ["tools/make_record.py", *sys.argv[1:]])
    out += ["## Files", "", "- `train_gpt.py`: the script that produced the logs", "- `requirements.txt`: its Python packages",
            "- `train_seed<seed>.log`: each seed's log",
            "- `submission.json`: the summary, every number from the logs (tools/summarize.py)"]
    out += ["- `curves.png`: train and validation loss against training time (tools/plot_logs.py)"] if curves else []
    out += ["", "## How this folder was made", "", "```bash", f"python {command}", "```", "",
            "and checked with `python tools/make_record.py --check <this folder>` (files, submission fields, code hash, bytes, "
            "finished seeds, time limits, identical settings, seed count, means" + (", significance" if sig else "") + ").", ""]
    return "\n".join(out)


def readme_results(folder: RecordFolder, curves: bool) -> list[str]:
    s = folder.submission
    f8 = lambda v: f"{v:.8f}" if v is not None else "n/a"  # noqa: E731
    seconds = lambda ms: f"{ms / 1000:.1f} s" if ms is not None else "n/a"  # noqa: E731
    if not s["valid"]:
        out = ["**No seed finished validly; see the problems below.**", ""]
    else:
        out = [f"**val_bpb {s['val_bpb']:.8f}** (mean of the {len(s['seeds'])} valid seed(s), std {s['val_bpb_std']:.8f}; "
               f"val_loss {s['val_loss']:.8f} nats), track `{folder.track}`, by {s['author'] or 'unnamed'}"
               + (f" (@{s['github_id']})" if s["github_id"] else "") + ".", ""]
    out += ["## Results", "", "Every number is read from the logs beside this file.", "",
            "| seed | steps | train time | eval time | val_loss | val_bpb | bytes_total | log |", "|---" * 8 + "|"]
    for r in s["seed_results"]:
        flag = "" if r["valid"] else " (" + "; ".join(r["problems"]) + ")"
        out.append(f"| {r.get('seed')} | {r.get('steps', 'n/a')} | {seconds(r.get('train_time_ms'))} | "
                   f"{seconds(r.get('eval_time_ms'))} | {f8(r.get('val_loss'))} | {f8(r.get('val_bpb'))} | "
                   f"{r.get('bytes_total', 'n/a')} | `{r['log']}`{flag} |")
    if s["valid"]:
        out.append(f"| **mean** | | | | {s['val_loss']:.8f} | {s['val_bpb']:.8f} | {s['bytes_total']} (max) | |")
    return out + [""] + (["![train and validation loss against training time](curves.png)", ""] if curves else [])


def readme_command(folder: RecordFolder) -> list[str]:
    """A command per group of seeds that ran the same settings: the variables that differ from the script's defaults."""
    out, with_settings = ["## Command", ""], [r for r in folder.runs if r.get("settings")]
    if not with_settings:
        return out + ["The logs carry no `hyperparameters` line.", ""]
    try:
        tg = load_script(folder.path / "train_gpt.py")
        groups = {}
        for r in with_settings:
            groups.setdefault(json.dumps(nondefault_env(tg, r)), []).append(r)
    except Exception as exc:  # noqa: BLE001 - a script that does not import still gets its logged settings
        logged = " ".join(f"{k}:{v}" for k, v in with_settings[0]["settings"].items())
        return out + [f"(The defaults could not be read from train_gpt.py: {type(exc).__name__}: {exc}; every logged "
                      "setting follows.)", "", "```", logged, "```", ""]
    out += ["Run inside this folder, once per seed in the table (each seed's `SEED`; `RUN_ID` and `ARTIFACT_PATH` only "
            "name the outputs). Variables are the ones that differ from this `train_gpt.py`'s defaults for the "
            f"`{folder.runs[0].get('profile')}` profile, read from each log's `hyperparameters` line (paths inside the "
            "repository this folder was built in are written relative to this folder):", ""]
    for key, runs in groups.items():
        env, unknown = json.loads(key)
        world = runs[0].get("world_size", 1)
        launcher = f"torchrun --standalone --nproc_per_node={world} train_gpt.py" if world > 1 else "python train_gpt.py"
        variables = [f"{k}={shlex.quote(portable(v, folder.path))}" for k, v in env.items()]
        out += [f"{listed(runs)}:", ""] if len(groups) > 1 else []
        out += ["```bash", " ".join(["SEED=<seed>", *variables, launcher]), "```", ""]
        out += [f"Logged settings this script does not have: {', '.join(unknown)}.", ""] if unknown else []
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", type=Path, help="run folders (seed*.log inside) or seed log files")
    p.add_argument("--check", type=Path, metavar="FOLDER", help="check a records folder; exit 1 on any fail")
    p.add_argument("-o", "--out", type=Path, default=Path("records"), help="records root for a build (default: records)")
    p.add_argument("--name", help="the submission's name; the folder is <date>_<name> with other characters as _")
    for option in ("--author", "--github-id", "--blurb"):
        p.add_argument(option, default="")
    p.add_argument("--track", choices=("auto", *TRACKS),
                   help="build: auto (default: 10min_16mb when every log ran on 8xH100) | 10min_16mb | non_record_16mb; "
                        "check: override the track read from the folder")
    p.add_argument("--date", default="", help="YYYY-MM-DD (default: today, UTC)")
    p.add_argument("--code", type=Path, help="the script that ran (default: the run folder's train_gpt.py, else ./train_gpt.py)")
    p.add_argument("--requirements", type=Path, help="default: requirements.txt beside --code, else ./requirements.txt")
    p.add_argument("--against", nargs="+", type=Path, metavar="REF",
                   help="reference records folder(s), submission.json or seed logs, pooled: both significance readings")
    p.add_argument("--force", action="store_true", help="replace an existing records folder of the same track, date and name")
    args = p.parse_args(argv)
    if args.check and args.inputs:
        p.error("use one of: --check FOLDER, or run folders/logs to build")
    if not args.check and not args.inputs:
        p.error("give run folders or seed logs to build a records folder (or --check FOLDER)")
    if not args.check and not args.name:
        p.error("--name is required to build a records folder")
    args.track = None if args.track == "auto" else args.track  # None: the check reads it, the build chooses it
    try:
        return report(check(args.check, args.against, args.track)) if args.check else build(args)
    except (RecordError, summarize.InputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
