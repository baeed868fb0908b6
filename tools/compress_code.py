"""Writes train_gpt.py as a self-extracting script, and reads the source back out of one.

    python tools/compress_code.py train_gpt.py -o runs/<tag>/train_gpt.py
    python tools/compress_code.py -d runs/<tag>/train_gpt.py [-o source.py]

The wrapper holds lzma + base85 of the source and runs it with exec() in the wrapper's own module
globals, so `__name__` stays `__main__` when it is run (also under torchrun), it imports as a
module, and `__file__` is the wrapper: train_gpt's code_bytes(), budget estimate, auto-fit and
`code bytes:` line all count the file that ships. -d also reads the challenge records' wrappers
(`exec(L.decompress(B.b85decode("...")))`, xz or raw LZMA2). Exit 2 with `error: ...` on bad input.
"""

from __future__ import annotations

import argparse
import ast
import base64
import hashlib
import lzma
import sys
from pathlib import Path

WRAPPER_HEADER = (
    "# train_gpt.py compressed by tools/compress_code.py: lzma + base85 of the source\n"
    "# ({size} bytes, sha256 {sha}).\n"
    "# It runs that source as this module (same globals, __name__ and __file__), so the code size it\n"
    "# logs and counts is this file's. Print the source with\n"
    "#   python3 tools/compress_code.py -d <this file>\n"
    "# or, standard library only:\n"
    "#   python3 -c \"import base64,lzma,sys;l=max(open(sys.argv[1]),key=len);"
    "sys.stdout.write(lzma.decompress(base64.b85decode(l.split('\\\"')[1])).decode())\" <this file>\n"
)
WRAPPER_BODY = (
    "import base64, linecache, lzma\n"
    "_source = lzma.decompress(base64.b85decode(\n"
    "\"{payload}\"))\n"
    "linecache.cache[__file__] = (len(_source), None, _source.decode().splitlines(True), __file__)"
    "  # tracebacks show the source\n"
    "exec(compile(_source, __file__, \"exec\", dont_inherit=True))\n"
)
# Raw LZMA2 as well as xz: some records' wrappers compress with format=FORMAT_RAW.
FORMATS = ({}, {"format": lzma.FORMAT_RAW, "filters": [{"id": lzma.FILTER_LZMA2}]})


class WrapperError(ValueError):
    """A source that cannot be wrapped, or a file that is not a wrapper: `error: ...`, exit 2."""


def compress(source: bytes) -> bytes:
    """The wrapper text for `source`; the source must compile, and the wrapper must give it back."""
    if decompress(source) is not None:
        raise WrapperError("the file is already a compressed wrapper")
    try:
        compile(source, "train_gpt.py", "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise WrapperError(f"the source does not compile: {exc}") from None
    payload = base64.b85encode(lzma.compress(source, preset=9 | lzma.PRESET_EXTREME)).decode("ascii")
    header = WRAPPER_HEADER.format(size=len(source), sha=hashlib.sha256(source).hexdigest())
    wrapper = (header + WRAPPER_BODY.format(payload=payload)).encode("ascii")
    assert decompress(wrapper) == source
    return wrapper


def decompress(data: bytes) -> bytes | None:
    """The source inside a compressed wrapper (its long base85 string literal), or None for a plain script."""
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
            for kwargs in FORMATS:
                try:
                    return lzma.decompress(raw, **kwargs)
                except lzma.LZMAError:
                    pass
    return None


def sources(data: bytes) -> list[str]:
    """The texts a log may have embedded for this train_gpt.py: itself, and a wrapper's source."""
    inner = decompress(data)
    return [data.decode("utf-8", errors="replace")] + ([inner.decode("utf-8", errors="replace")] if inner is not None else [])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", type=Path, help="the script to compress (with -d: the wrapper to read)")
    p.add_argument("-d", "--decompress", action="store_true", help="print (or write to -o) the source inside a wrapper")
    p.add_argument("-o", "--out", type=Path, help="the output file (required to compress)")
    args = p.parse_args(argv)
    if not args.decompress and args.out is None:
        p.error("compressing needs -o <file>")
    try:
        data = args.file.read_bytes()
        if args.decompress:
            source = decompress(data)
            if source is None:
                raise WrapperError(f"{args.file} is not a compressed wrapper (no lzma + base85 payload)")
            if args.out:
                args.out.write_bytes(source)
            else:
                sys.stdout.write(source.decode("utf-8", errors="replace"))
            return 0
        wrapper = compress(data)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(wrapper)
    except (WrapperError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"compressed {args.file} ({len(data)} bytes) -> {args.out} ({len(wrapper)} bytes, {len(data) - len(wrapper)} saved) "
          f"sha256:{hashlib.sha256(wrapper).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
