#!/usr/bin/env python3
"""Normalize one tool's stdout so that hs and HyperShell 2.8.2 can be compared.

Used by scripts/compat.  What differs between two runs of the *same* tool is
replaced, and nothing else, so that a difference that remains is one a user
would see:

- UUIDs become <id1>, <id2>, ... in order of first appearance (flag `ids`:
  every UUID becomes <id>, for outputs that show server and client ids, whose
  sharing differs between the tools by construction);
- timestamps keep their shape but not their digits (`2026-12-06 12:33:33.718`
  becomes `NNNN-NN-NN NN:NN:NN.NNN`): the format is compared, the time is not;
- `waited` and `duration` values (seconds, depend on the machine's load)
  become <dur>, in JSON, CSV (by header), `normal` blocks, and plain rows
  whose column count matches the tool's `hs list --fields` (--fields FILE);
- the host name becomes <host>;
- a Rich table (box drawing) and a column table (dashes under the header) both
  become `cell | cell` rows: the cells are compared, not the drawing;
- JSON (the whole output) is re-dumped with one indentation: the data is
  compared, not the whitespace.

Flags (comma separated, --flags): `ids` (see above), `nopart` (drop the
`part:0` tag 2.8.2 adds to every task, for cases about something else; the
`part` tag itself is compared by its own cases), `canon` (re-dump JSON objects
found inside text lines, e.g. the `tag` column of plain/CSV output, with one
spacing), `sort` (sort the lines: for outputs whose order is not specified).
"""

import argparse
import csv
import io
import json
import re
import socket
import sys

UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
TIME = re.compile(
    r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?(?![\d])"
)
# `normal` blocks: "started: T (waited: 0:00:03)", "completed: T (duration: 0:00:00)"
DUR_PAREN = re.compile(r"\((waited|duration): [^)]*\)")
VOLATILE = {"waited", "duration"}
BOX = set("┏┓┗┛┃━┳┻╋┡┩╇│─┼├┤┌┐└┘┬┴╭╮╰╯═║╔╗╚╝╠╣╦╩╬")


class Ids:
    """UUID -> ordinal, shared by every part of one output."""

    def __init__(self, blank):
        self.blank = blank
        self.seen = {}

    def __call__(self, m):
        if self.blank:
            return "<id>"
        key = m.group(0).lower()
        if key not in self.seen:
            self.seen[key] = len(self.seen) + 1
        return "<id%d>" % self.seen[key]


def shape(m):
    return re.sub(r"\d", "N", m.group(0))


def text_pass(s, ids, host):
    s = UUID.sub(ids, s)
    s = TIME.sub(shape, s)
    s = DUR_PAREN.sub(lambda m: "(%s: <dur>)" % m.group(1), s)
    if host:
        s = re.sub(r"(?<![\w.-])%s(?![\w-])" % re.escape(host), "<host>", s)
    return s


def drop_part(value):
    if isinstance(value, dict):
        return {k: drop_part(v) for k, v in value.items() if not (k == "part" and v == 0)}
    if isinstance(value, list):
        return [drop_part(v) for v in value]
    return value


def volatile_json(value):
    if isinstance(value, dict):
        return {
            k: ("<dur>" if k in VOLATILE and v is not None else volatile_json(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [volatile_json(v) for v in value]
    return value


def as_json(text, flags):
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, (list, dict)):
        return None
    if "nopart" in flags:
        value = drop_part(value)
    return json.dumps(volatile_json(value), indent=1, ensure_ascii=False) + "\n"


def is_table(lines):
    """A Rich table, or hs's column table (a header, then dashes and spaces)."""
    if any(ch in BOX for ln in lines[:3] for ch in ln):
        return "rich"
    if len(lines) >= 2 and re.fullmatch(r"-+( +-+)*", lines[1].rstrip()):
        return "columns"
    return None


def table_cells(lines, kind):
    rows = []
    if kind == "rich":
        for ln in lines:
            if not ln or all(ch in BOX or ch == " " for ch in ln):
                continue
            parts = re.split("[┃│║]", ln)
            rows.append([p.strip() for p in parts[1:-1]] if len(parts) > 2 else [ln.strip()])
    else:
        spans = [m.span() for m in re.finditer(r"-+", lines[1])]
        for i, ln in enumerate(lines):
            if i == 1:
                continue
            cells = []
            for j, (a, b) in enumerate(spans):
                end = spans[j + 1][0] if j + 1 < len(spans) else len(ln)
                cells.append(ln[a:end].strip())
            rows.append(cells)
    return ["table: " + " | ".join(r) for r in rows]


def csv_pass(lines):
    """With a header naming waited/duration, blank those columns."""
    if not lines:
        return lines
    header = next(csv.reader([lines[0]]))
    idx = [i for i, h in enumerate(header) if h in VOLATILE]
    if not idx or len(header) < 2:
        return lines
    out = [lines[0]]
    for row in csv.reader(lines[1:]):
        for i in idx:
            if i < len(row) and row[i] not in ("", "null"):
                row[i] = "<dur>"
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow(row)
        out.append(buf.getvalue())
    return out


def plain_pass(lines, fields, delim="\t"):
    """Plain rows with every field: blank waited/duration by position."""
    if not fields:
        return lines
    idx = [i for i, f in enumerate(fields) if f in VOLATILE]
    out = []
    for ln in lines:
        cells = ln.split(delim)
        if len(cells) == len(fields):
            for i in idx:
                if cells[i] != "null":
                    cells[i] = "<dur>"
            ln = delim.join(cells)
        out.append(ln)
    return out


def canon_inline(ln, flags):
    def repl(m):
        try:
            value = json.loads(m.group(0))
        except ValueError:
            return m.group(0)
        if not isinstance(value, dict):
            return m.group(0)
        if "nopart" in flags:
            value = drop_part(value)
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    return re.sub(r"\{[^{}]*\}", repl, ln)


def normalize(text, flags, fields, host):
    ids = Ids("ids" in flags)
    dumped = as_json(text, flags)
    if dumped is not None:
        return text_pass(dumped, ids, host)
    lines = text.split("\n")
    trailing = lines and lines[-1] == ""
    if trailing:
        lines = lines[:-1]
    kind = is_table(lines)
    if kind:
        lines = table_cells(lines, kind)
    elif lines and "," in lines[0] and any(f in lines[0].split(",") for f in VOLATILE):
        lines = csv_pass(lines)
    else:
        lines = plain_pass(lines, fields)
    if "nopart" in flags:
        # `normal` blocks: "tags: a:1, part:0"
        lines = [re.sub(r"(tags: .*?)(, )?\bpart:0\b", r"\1", ln).rstrip(", ") for ln in lines]
        lines = [re.sub(r"^(\s*tags:) ?$", r"\1", ln) for ln in lines]
    if "canon" in flags:
        lines = [canon_inline(ln, flags) for ln in lines]
    if "sort" in flags:
        lines.sort()
    out = "\n".join(text_pass(ln, ids, host) for ln in lines)
    return out + ("\n" if trailing else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--flags", default="")
    ap.add_argument("--fields", help="a file with the tool's `hs list --fields` output")
    args = ap.parse_args()
    flags = {f for f in args.flags.split(",") if f and f != "-"}
    fields = None
    if args.fields:
        try:
            with open(args.fields, encoding="utf-8") as fh:
                fields = fh.read().split()
        except OSError:
            fields = None
    with open(args.file, encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    sys.stdout.write(normalize(text, flags, fields, socket.gethostname()))


if __name__ == "__main__":
    main()
