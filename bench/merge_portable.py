#!/usr/bin/env python3
"""Adds the portable POSIX path's figures to the fast path's bench tables.

Usage: merge_portable.py FAST_MD PORTABLE_MD > OUT_MD

Both inputs are what the bench programs print (run.sh): the same tables,
the first from the Linux fast-path build, the second from the portable
build (MPROC_POSIX_PORTABLE=ON) run right after it with Python skipped.
Each row of the first gains three columns from the row of the same
operation in the same table of the second: the portable path's figure,
portable/raw (against the raw calls of the first run) and python/portable.
Rows the second lacks get "n/a". Everything else passes through."""
import re
import sys

ROW = re.compile(r"^\| (.*?) \| (.*?) \| (.*?) \| (.*?) \| .*\|$")


def med(cell):
    """The median of a cell "1.23 (1.1–1.4)", or None."""
    try:
        return float(cell.split(" ")[0])
    except ValueError:
        return None


def tables(lines):
    """{(title, operation): mproc cell} of a bench output."""
    out, title = {}, None
    for line in lines:
        if line.startswith("### "):
            title = line
        m = ROW.match(line)
        if title and m and not line.startswith("| operation") and \
                not line.startswith("|---"):
            out[(title, m.group(1))] = m.group(2)
    return out


def ratio(a, b):
    return "%.2f" % (a / b) if a is not None and b else "n/a"


def main():
    fast = open(sys.argv[1], encoding="utf-8").read().splitlines()
    port = tables(open(sys.argv[2], encoding="utf-8").read().splitlines())
    title = None
    for line in fast:
        if line.startswith("### "):
            title = line
        if line.startswith("| operation |"):
            line += " portable | portable/raw | python/portable |"
        elif line.startswith("|---|"):
            line += "---|---|---|"
        else:
            m = ROW.match(line)
            if m and title:
                cell = port.get((title, m.group(1)))
                p = med(cell) if cell else None
                raw, py = med(m.group(3)), med(m.group(4))
                line += " %s | %s | %s |" % (cell or "n/a", ratio(p, raw),
                                              ratio(py, p))
        print(line)


if __name__ == "__main__":
    main()
