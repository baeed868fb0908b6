"""The documentation stays true to the code: the variable table is generated, every log line is
documented, links resolve, no documented command sets a variable the script refuses, and the docs
speak of the project alone (no development-machine paths, no tracker numbers)."""

import io
import re
import sys
import tokenize
from pathlib import Path

from conftest import ROOT, tg

sys.path.insert(0, str(ROOT / "tools"))
import env_table  # noqa: E402

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").rglob("*.md"))
RESULTS = ROOT / "results"
# Files that set another program's variables, not train_gpt.py's; each with the reason.
FOREIGN_ENV = {
    RESULTS / "cpu/recipe/record_script/env.sh": "the environment of the ternary record's own script",
    RESULTS / "cpu/baseline_compare/run.sh": "sets the challenge baseline's own variables (WARMDOWN_ITERS) for its runs",
    RESULTS / "cpu/techniques/run.sh": "runs 28514b4's script, which still has the knobs the batch retired (MLP_LEAK, ...)",
}


def test_variables_doc_is_the_generated_table_of_every_knob():
    text = env_table.DOC.read_text()
    assert env_table.render(text) == text, "docs/variables.md is stale: run python tools/env_table.py --write"
    assert all(f"| `{f.name.upper()}` |" in text for f in tg.Hyperparameters.knobs())


def test_every_log_line_of_the_script_is_documented():
    source = (ROOT / "train_gpt.py").read_text()
    phases = {"final_roundtrip", "final_sliding", "final_ttt"}  # printed through f"{name} ..." in evaluate()
    assert all(f'"{p}"' in source for p in phases)
    prefixes = set(re.findall(r'log\(\s*f?"([a-z_ ]+?)[: ]', source)) | phases
    doc = (ROOT / "docs/logs.md").read_text()
    missing = sorted(p for p in prefixes if f"`{p}" not in doc)
    assert len(prefixes) >= 15 and not missing, missing


def slug(heading: str) -> str:
    """GitHub's anchor for a markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(h) for h in re.findall(r"^#+ (.+)$", path.read_text(), re.M)}


def test_readme_is_short_and_every_relative_link_resolves():
    assert len(README.read_text().splitlines()) <= 250
    pages = [README, *DOCS, *RESULTS.rglob("README.md")]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # an absolute URL
            file, _, anchor = target.partition("#")
            path = (page.parent / file).resolve() if file else page
            if not path.exists() or (anchor and path.suffix == ".md" and anchor not in anchors(path)):
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, broken
    linked = re.findall(r"\]\((docs/[^)#\s]+)", README.read_text())
    assert {"docs/variables.md", "docs/measurements.md", "docs/logs.md"} <= set(linked)


def assignments(path: Path) -> set[str]:
    """Upper-case NAME of every NAME=value a reader could copy: all of a shell script, the code spans and
    blocks of a markdown file, the string keys of a Python script's environment dicts."""
    text = path.read_text()
    if path.suffix == ".py":
        return set(re.findall(r'"([A-Z][A-Z0-9_]*)":\s*"', text))
    if path.suffix == ".md":
        blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.M | re.S)
        rest = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.M | re.S)
        text = "\n".join(blocks + re.findall(r"`([^`]+)`", rest))
    return set(re.findall(r"(?<![\w$/.-])([A-Z][A-Z0-9_]*)=(?!=)", text))


def test_no_doc_or_script_sets_a_variable_the_script_refuses():
    files = [README, *DOCS, *(p for p in RESULTS.rglob("*") if p.suffix in (".md", ".sh", ".py"))]
    found = {p: assignments(p) for p in files if p not in FOREIGN_ENV}
    assert sum(map(len, found.values())) > 50  # the scan sees the documented commands
    refused = sorted(f"{p.relative_to(ROOT)}: {tg.refused_variable(n)}" for p, names in found.items() for n in names
                     if tg.refused_variable(n) is not None)
    assert not refused, refused


# A tracker reference: "issue 19", "issue #19", "#19"; allowed when it names its repository or is a PR
# ("PR #1902", "openai/parameter-golf#1902", "openai/parameter-golf issue #2148", "pytorch PR #132689").
TRACKER = re.compile(r"\bissues?\s*#?\s*\d+|#\d+", re.I)
QUALIFIED = re.compile(r"(\bPRs?\s*|\bpull requests?\s*|[\w.-]+/[\w.-]+\s*(issues?\s*|PRs?\s*)?)$", re.I)
DEV_MACHINE = re.compile(r"\.\./shared|/work/|\blent (GPU )?machine", re.I)


def unqualified_references(text: str) -> list[str]:
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets: their #anchors are not references
    return [m.group(0) for m in TRACKER.finditer(text) if not QUALIFIED.search(text[max(0, m.start() - 60) : m.start()])]


def test_the_reference_filter_keeps_citations_and_catches_our_tracker():
    assert unqualified_references("as in issue 19, and #12; see [x](a.md#2026-12-01-x)") == ["issue 19", "#12"]
    cited = "PR #1902, openai/parameter-golf#1902, openai/parameter-golf issue #2148, pytorch PR #132689"
    assert unqualified_references(cited) == []


def commentary(path: Path) -> str:
    """Comments and string literals (docstrings, messages) of a Python file."""
    kinds = {tokenize.COMMENT, tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
    return "\n".join(t.string for t in tokenize.generate_tokens(io.StringIO(path.read_text()).readline) if t.type in kinds)


def test_docs_and_comments_speak_of_the_project_alone():
    texts = {p: p.read_text() for p in [README, *DOCS, *RESULTS.rglob("*.md")]}
    texts[ROOT / "train_gpt.py"] = commentary(ROOT / "train_gpt.py")
    texts.update({p: p.read_text() for p in RESULTS.rglob("*") if p.suffix in (".sh", ".py")})
    bad = [f"{p.relative_to(ROOT)}: {m}" for p, text in texts.items()
           for m in [*(d.group(0) for d in DEV_MACHINE.finditer(text)), *unqualified_references(text)]]
    assert not bad, bad
