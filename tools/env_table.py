"""Prints the environment-variable table of docs/variables.md from train_gpt.Hyperparameters, the one
source of every knob.

    python tools/env_table.py           # print the table (between its markers)
    python tools/env_table.py --write   # rewrite the table in docs/variables.md in place

Only the part between `<!-- env-table:start -->` and `<!-- env-table:end -->` is generated; the text
around it is written by hand. tests/test_docs.py fails when the file differs from what --write makes."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "variables.md"
sys.path.insert(0, str(ROOT))
import train_gpt  # noqa: E402

START, END = "<!-- env-table:start -->", "<!-- env-table:end -->"


def show(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if value == "":
        return "(empty)"
    return f"`{str(value).replace(str(train_gpt.HERE), '<script dir>')}`"


def table() -> str:
    rows = ["| variable | default | CPU sample default | meaning |", "|---|---|---|---|"]
    for f in train_gpt.Hyperparameters.knobs():
        cpu = f.metadata["cpu"]
        doc = f.metadata["doc"].replace("|", "\\|").replace("<", "\\<")
        cuda = f.metadata["cuda"]
        default = show(f.default) if cuda is None else f"{show(cuda)} on CUDA, {show(f.default)} on CPU"
        rows.append(f"| `{f.name.upper()}` | {default} | {'same' if cpu is None else show(cpu)} | {doc} |")
    return "\n".join(rows)


def block() -> str:
    return f"{START}\n{table()}\n{END}"


def render(text: str) -> str:
    """`text` (docs/variables.md) with its table replaced by the current one."""
    if START not in text or END not in text:
        raise SystemExit(f"error: {DOC} lacks the {START} / {END} markers")
    head, rest = text.split(START, 1)
    return head + block() + rest.split(END, 1)[1]


if __name__ == "__main__":
    if "--write" in sys.argv:
        DOC.write_text(render(DOC.read_text()))
    else:
        print(block())
