"""Black-box causality audit of an evaluation: does any score depend on its own or later tokens?

    EVAL_STRIDE=64 TTT=doc python tools/audit_eval.py artifacts/<run>.pgolf --tokens 65536

Evaluation settings come from the environment exactly as for `EVAL_ARTIFACT` (DATA_PATH,
TOKENIZER_PATH, EVAL_STRIDE, TTT, TTT_* ...). For each position q the audit writes a copy of the
validation stream that agrees with the original before q and differs from q on, scores both by
running the script with EVAL_ARTIFACT and EVAL_DUMP, and compares the per-target NLL dumps.
Target t is token t + 1 predicted from tokens 0..t, so a change at q may move targets q - 1 and
later only. It also checks that every target was scored exactly once (one finite, positive NLL
per target whose mean is the logged val_loss). Exit status: 0 causal, 1 not shown causal (a leak,
an unscored target, or a change the scores never saw), 2 the audit could not run. The last line
starts with `audit causal: true` or `audit causal: false`.
"""

import argparse
import dataclasses
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import logs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHIFT = 7  # the "shift" copy maps every token from q on to (t + SHIFT) mod vocab
BOS_ID = 1  # documents start at BOS


class AuditError(RuntimeError):
    """The audit could not run (bad input, or an evaluation that failed)."""


def load_script(path: Path):
    """Imports the (possibly modified) training script as a module, for its settings and shard format."""
    spec = importlib.util.spec_from_file_location("audited_train_gpt", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # a broken copy is reported, not a traceback of the audit
        raise AuditError(f"--script {path}: cannot be imported ({type(exc).__name__}: {exc})") from None
    return module


def resolve_settings(tg, artifact: Path):
    """The evaluation settings the script will use for this artifact (environment + artifact shape)."""
    errors = tuple(getattr(tg, name) for name in ("ConfigError", "DataError", "ArtifactError") if hasattr(tg, name))
    try:
        cfg = tg.Hyperparameters.from_env()
        config, _ = tg.decode_artifact(artifact.read_bytes(), str(artifact))
        cfg = dataclasses.replace(cfg, **config).validated()
        files = tg.shard_files(cfg, "val")
        tokens = np.concatenate([tg.load_shard(f, cfg.vocab_size) for f in files])
    except errors as exc:
        raise AuditError(str(exc)) from None
    except (OSError, ValueError, TypeError) as exc:  # e.g. a modified script whose settings differ
        raise AuditError(f"cannot read the settings, artifact or validation data ({type(exc).__name__}: {exc})") from None
    return cfg, tokens


def default_positions(tokens: np.ndarray, cfg) -> list[tuple[int, str, str]]:
    """(q, why, variant): inside a TTT=doc chunk of the first document (after one it stepped on, when
    there is one), inside a later document (a BOS inserted there), near the end."""
    n = len(tokens) - 1  # targets
    picks = []
    chunk = cfg.ttt_doc_chunk
    bos = [int(i) for i in np.nonzero(tokens == BOS_ID)[0] if i > 0]
    first_end = min(bos[0] if bos else n, n)  # the first document's targets are 0..first_end - 1
    c = 1 if first_end > 2 * chunk else 0
    a0, a1 = c * chunk, max(min(first_end, (c + 1) * chunk), c * chunk + 1)
    picks.append((a0 + (a1 - a0) // 2 + 1, f"inside TTT chunk {c} (targets {a0}..{a1 - 1})", "shift"))
    if bos:
        d0, d1 = bos[0], (bos[1] if len(bos) > 1 else len(tokens))
        q, doc_chunk = d0 + (d1 - d0) // 2, chunk
        if doc_chunk and (q - 1 - d0) % doc_chunk == 0 and q + 1 < d1:
            q += 1  # target q - 1 is not the first of a TTT=doc chunk, so a chunk trained before scoring shows
        if d1 - d0 >= 3:
            picks.append((q, f"inside the document starting at {d0}", "bos"))
    picks.append((len(tokens) - 2, "near the end", "shift"))
    out, seen = [], set()
    for q, why, variant in picks:
        q = min(max(q, 1), len(tokens) - 1)
        if (q, variant) not in seen:
            seen.add((q, variant))
            out.append((q, why, variant))
    return out


def altered(tokens: np.ndarray, q: int, variant: str, vocab: int) -> np.ndarray:
    """A copy equal to tokens before q and different from q on."""
    copy = tokens.copy()
    if variant == "shift":
        copy[q:] = (tokens[q:].astype(np.int64) + SHIFT) % vocab
    else:  # "bos": a document boundary inserted at q, the rest moved one place later (same length)
        copy[q] = BOS_ID
        copy[q + 1 :] = tokens[q:-1]
    return copy


def write_shard(path: Path, tokens: np.ndarray, tg):
    """A challenge shard as tg.load_shard reads it: a 256-int32 header, then uint16 tokens."""
    header = np.zeros(tg.SHARD_HEADER_INTS, dtype="<i4")
    header[:3] = (tg.SHARD_MAGIC, tg.SHARD_VERSION, len(tokens))
    Path(path).write_bytes(header.tobytes() + np.asarray(tokens, dtype="<u2").tobytes())


def write_stream(folder: Path, tokens: np.ndarray, tg) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_shard(folder / "fineweb_val_000000.bin", tokens, tg)
    return folder


def run_eval(script: Path, artifact: Path, data: Path, tokenizer: str, dump: Path, work: Path, nproc: int, timeout: float) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_"))}
    env.update(DATA_PATH=str(data), TOKENIZER_PATH=tokenizer, EVAL_ARTIFACT=str(artifact), EVAL_DUMP=str(dump),
               RUN_ID=dump.stem, ARTIFACT_PATH="")
    cmd = [sys.executable, str(script)]
    if nproc:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", str(script)]
    try:
        done = subprocess.run(cmd, env=env, cwd=work, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AuditError(f"the evaluation of {data.name} ran past {timeout:.0f} s") from None
    if done.returncode != 0 or not dump.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-15:] or ["(no output)"]
        raise AuditError(f"the evaluation of the {data.name} copy failed (exit {done.returncode}): {tail[-1]}\n"
                         + "\n".join(tail))
    return done.stdout


def scored_once(nll: np.ndarray, n_targets: int, stdout: str) -> list[str]:
    """Why the dump does not show every target scored exactly once (empty when it does)."""
    if nll.shape != (n_targets,):
        return [f"the dump holds {nll.size} scores for {n_targets} targets"]
    problems = []
    bad = ~np.isfinite(nll) | (nll <= 0)  # an unscored target stays exactly 0
    if bad.any():
        problems.append(f"{int(bad.sum())} targets unscored or not finite (first at {int(np.argmax(bad))})")
    phases = logs.parse(stdout)["phases"]
    logged = phases[-1].get("val_loss") if phases else None  # the last phase's scores are the ones EVAL_DUMP holds
    if logged is None:
        problems.append("no final_* val_loss line in the log")
    elif not abs(float(nll.astype(np.float64).mean()) - logged) <= 1e-5:
        problems.append(f"dump mean {nll.astype(np.float64).mean():.8f} differs from the logged val_loss {logged:.8f}")
    return problems


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("artifact", type=Path)
    p.add_argument("--script", type=Path, default=ROOT / "train_gpt.py",
                   help="training script to run (default: the repository's)")
    p.add_argument("--tokens", type=int, default=0, help="cut the validation stream to its first N tokens (0 = all)")
    p.add_argument("--q", type=int, nargs="+", help="positions to change (default: inside a TTT chunk of the first document, "
                                                     "inside a later document, near the end)")
    p.add_argument("--variant", choices=("auto", "shift", "bos", "both"), default="auto",
                   help="how the copy differs from q on: shift = (t + 7) mod vocab, bos = a BOS inserted at q; "
                        "auto = bos for the later-document position, shift elsewhere (both for positions given with --q)")
    p.add_argument("--nproc", type=int, default=0, help="run under torchrun with this many processes (default: plain python)")
    p.add_argument("--jobs", type=int, default=1, help="evaluations run at the same time (default 1)")
    p.add_argument("--tol", type=float, default=0.0,
                   help="largest change before q - 1 still counted as unchanged (default 0: bit-exact)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds allowed for each evaluation")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (streams, dumps, logs)")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="audit_eval_"))
    try:
        return audit(args, work)
    except AuditError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(f"audit causal: false (the audit could not run: {str(exc).splitlines()[0]})")
        return 2
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def audit(args, work: Path) -> int:
    script, artifact = args.script.resolve(), args.artifact.resolve()
    if not script.is_file():
        raise AuditError(f"--script {args.script}: no such file")
    if not artifact.is_file():
        raise AuditError(f"{args.artifact}: no such artifact")
    tg = load_script(script)
    cfg, tokens = resolve_settings(tg, artifact)
    if args.tokens:
        tokens = tokens[: args.tokens]
    if len(tokens) < 4:
        raise AuditError(f"the validation stream has {len(tokens)} tokens; the audit needs at least 4")
    n_targets = len(tokens) - 1
    if args.q:
        bad = [q for q in args.q if not 1 <= q < len(tokens)]
        if bad:
            raise AuditError(f"--q {bad}: positions must be in 1..{len(tokens) - 1}")
        positions = [(q, "given", "both") for q in dict.fromkeys(args.q)]
    else:
        positions = default_positions(tokens, cfg)
    if args.variant != "auto":
        positions = [(q, why, args.variant) for q, why, _ in positions]
    runs = [(q, why, v) for q, why, variant in positions for v in (("shift", "bos") if variant == "both" else (variant,))]
    mode = f"ttt:{cfg.ttt} eval_stride:{cfg.eval_stride} eval_seq_len:{cfg.eval_seq_len} ttt_doc_chunk:{cfg.ttt_doc_chunk}"
    print(f"audit script:{script} artifact:{artifact} tokens:{len(tokens)} targets:{n_targets} nproc:{args.nproc or 1} {mode}")
    tokenizer = str(Path(cfg.tokenizer_path).resolve())

    def score(name: str, stream: np.ndarray) -> tuple[np.ndarray, str]:
        data = write_stream(work / name, stream, tg)
        dump = work / f"{name}.npy"
        stdout = run_eval(script, artifact, data, tokenizer, dump, work, args.nproc, args.timeout)
        return np.load(dump), stdout

    copies = [("original", tokens)] + [(f"q{q}_{v}", altered(tokens, q, v, cfg.vocab_size)) for q, _, v in runs]
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        results = list(pool.map(lambda c: score(*c), copies))
    scores = {}
    unscored = []
    for (name, _), (nll, stdout) in zip(copies, results):
        problems = scored_once(nll, n_targets, stdout)
        verdict = "every target once" if not problems else "PROBLEM " + "; ".join(problems)
        print(f"scored {name}: targets:{n_targets} dump:{nll.size} {verdict}")
        scores[name] = nll if not problems else None
        unscored += problems
    base = scores["original"]
    leaks, blind, max_before = [], [], 0.0
    for (name, stream), (q, why, variant) in zip(copies[1:], runs):
        nll = scores[name]
        if base is None or nll is None:
            continue
        first = int(np.argmax(stream != tokens)) if (stream != tokens).any() else len(tokens)
        keep = max(first - 1, 0)  # targets 0..first-2 predict tokens before the first change
        change = np.abs(nll[:keep].astype(np.float64) - base[:keep])
        worst = float(change.max()) if keep else 0.0
        max_before = max(max_before, worst)
        moved = change > args.tol
        seen = int((nll[keep:] != base[keep:]).sum())
        print(f"audit q:{q} variant:{variant} ({why}) first_change:{first} targets_before:{keep} "
              f"changed_before:{int(moved.sum())} max_change_before:{worst:.3g} "
              + (f"first_changed_before:{int(np.argmax(moved))} " if moved.any() else "")
              + f"changed_at_or_after:{seen}")
        if moved.any():
            leaks.append(f"{q}:{variant}")
        if seen == 0:
            blind.append(f"{q}:{variant}")
    qs = ",".join(f"{q}:{v}" for q, _, v in runs)
    details = f"q:{qs} max_change_before_q:{max_before:.3g} targets:{n_targets} nproc:{args.nproc or 1} {mode}"
    if leaks or unscored or blind:
        reasons = []
        if leaks:
            reasons.append(f"scores before q - 1 changed for q={','.join(map(str, leaks))}: a score depends on later tokens")
        if unscored:
            reasons.append("not every target was scored exactly once")
        if blind:
            reasons.append(f"inconclusive for q={','.join(map(str, blind))}: no score at or after q - 1 changed, "
                           "so the audit proved nothing there")
        print(f"audit causal: false {details} reason: " + "; ".join(reasons))
        return 1
    print(f"audit causal: true {details}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
