#!/usr/bin/env python3
"""Replaces one generated section of a Markdown file, leaving the rest as it is.

Usage: markdown_section.py FILE NAME < TEXT

A section lies between `<!-- NAME: begin -->` and `<!-- NAME: end -->`
(HTML comments, invisible once rendered). Several scripts write BENCHMARKS.md,
each its own section: `scripts/bench` the peer comparison, `scripts/build-cost`
the build cost. A section not yet in the file is appended to it.
"""
import os
import sys


def replace_section(path, name, text):
    begin, end = f"<!-- {name}: begin -->", f"<!-- {name}: end -->"
    block = f"{begin}\n{text.strip()}\n{end}"
    old = open(path).read() if os.path.exists(path) else ""
    start = old.find(begin)
    stop = old.find(end, start)
    if start >= 0 and stop >= 0:
        new = old[:start] + block + old[stop + len(end):]
    elif start >= 0 or old.find(end) >= 0:
        sys.exit(f"{path}: the {name} section has only one of its two markers; fix the file by hand")
    else:
        new = (old.rstrip("\n") + "\n\n" if old.strip() else "") + block + "\n"
    open(path, "w").write(new)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    replace_section(sys.argv[1], sys.argv[2], sys.stdin.read())
