"""Prints the README's environment-variable table from train_gpt.Hyperparameters, the one source
of every knob. `python tools/env_table.py --write` rewrites the table in README.md in place."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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


if __name__ == "__main__":
    if "--write" in sys.argv:
        readme = ROOT / "README.md"
        text = readme.read_text()
        head, rest = text.split(START, 1)
        readme.write_text(head + block() + rest.split(END, 1)[1])
    else:
        print(block())
