"""One Markdown table from a folder of benchmark outputs, as gpu.sh and cpu.sh leave them.

For each step the folder holds `<step>.txt` (its output), `<step>.cmd` (the command) and `<step>.rc` (exit status
and seconds); steps are reported in the order of their names. Every result line a script prints (`name: key=value ...`, e.g. `star_step/mlp: ratio=1.05
target=1.10`) becomes a row; a ratio is checked against its target; a step that failed or timed out is a row
saying so. A `share` (target 3's compute share) meets its target from above. pytest's summary line is a row
too.

    python benchmarks/report.py benchmarks/gpu-results.d > benchmarks/gpu-results.md
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

RESULT = re.compile(r"^([\w./()+-]+): (\w+=\S+(?: \w+=\S+)*)$")
PYTEST = re.compile(r"^=*\s*((?:\d+ \w+(?:, )?)+) in [\d.]+s")
LOAD = re.compile(r"load average at start ([\d. ]+)")


def rows_of(step: Path) -> list[tuple[str, str, str]]:
    """(check, result, status) rows of one step's output."""
    text = step.with_suffix(".txt").read_text(errors="replace") if step.with_suffix(".txt").exists() else ""
    rc_file = step.with_suffix(".rc")
    rc, seconds = (rc_file.read_text().split() + ["?", "?"])[:2] if rc_file.exists() else ("?", "?")
    rows = []
    for line in text.splitlines():
        if m := RESULT.match(line.strip()):
            fields = dict(kv.split("=", 1) for kv in m.group(2).split())
            status = ""
            if "ratio" in fields and "target" in fields:
                status = "meets target" if float(fields["ratio"]) <= float(fields["target"]) else "OVER TARGET"
            elif "share" in fields and "target" in fields:  # a share is better the larger it is
                status = "meets target" if float(fields["share"]) >= float(fields["target"]) else "UNDER TARGET"
            elif "identical" in fields:
                status = "identical" if fields["identical"] == "True" else "DIFFERENT"
            rows.append((m.group(1), m.group(2), status))
        elif m := PYTEST.match(line.strip()):
            rows.append(("pytest", m.group(1), "FAILED" if "failed" in m.group(1) or "error" in m.group(1)
                         else "passed"))
    if rc not in ("0", "?"):
        why = "timed out" if rc in ("124", "137") else f"exit status {rc}"
        rows.append((step.name, f"{why} after {seconds}s (see {step.with_suffix('.txt').name})", "FAILED"))
    return [(check, result, status, seconds, _load(text)) for check, result, status in rows]


def _command(step: Path) -> str:
    cmd = step.with_suffix(".cmd")
    return cmd.read_text().strip() if cmd.exists() else ""


def _load(text: str) -> str:
    m = LOAD.search(text)
    return m.group(1).strip() if m else ""


def table(folder: Path) -> str:
    """Rows of every step in the folder, in the order of their names (the scripts number them)."""
    lines = ["| check | result | status | step seconds | load average | command |",
             "| --- | --- | --- | --- | --- | --- |"]
    for step in sorted(p.with_suffix("") for p in folder.glob("*.cmd")):
        for check, result, status, seconds, load in rows_of(step):
            lines.append(f"| {check} | {result} | {status} | {seconds} | {load} | `{_command(step)}` |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python benchmarks/report.py FOLDER")
    folder = Path(argv[0])
    env = folder / "environment.txt"
    if env.exists():
        print(env.read_text().strip() + "\n")
    print(table(folder))


if __name__ == "__main__":
    main(sys.argv[1:])
