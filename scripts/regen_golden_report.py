"""Regenerate the golden report test's inputs and expected outputs (tests/data/report/).

The golden test (tests/test_report.py) only compares; it never writes its own expectations.
After an intended change to the report, run this script, then review the diff so that it
changes only what you meant:

    .venv/bin/python scripts/regen_golden_report.py           # rewrite the golden files
    git diff tests/data/report/
    .venv/bin/python scripts/regen_golden_report.py --check   # exit 1 if any file would change

The inputs (three A/B files and a mapping file) are written by ``write_inputs`` and the
report is built by ``build_golden``, both in tests/test_report.py, so the test and this
script cannot drift apart.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
OUTPUTS = ("report.md", "summary.json")


def _golden() -> ModuleType:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import tests.test_report as golden

    return golden


def build(folder: Path) -> dict[str, bytes]:
    """Every golden file (inputs, then expected outputs) as built now, by relative path."""
    golden = _golden()
    inputs = folder / "inputs"
    golden.write_inputs(inputs)
    golden.build_golden(folder / "report", inputs)
    files = {p.name: p.read_bytes() for p in sorted(inputs.iterdir()) if p.is_file()}
    for name in OUTPUTS:
        files[f"expected/{name}"] = (folder / "report" / name).read_bytes()
    return files


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with ``--check`` compare) the golden files; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a file would change"
    )
    args = parser.parse_args(argv)
    target: Path = _golden().GOLDEN
    with tempfile.TemporaryDirectory(prefix="lem-golden-") as tmp:
        files = build(Path(tmp))
    changed = [
        name
        for name, data in files.items()
        if not (target / name).is_file() or (target / name).read_bytes() != data
    ]
    if args.check:
        for name in changed:
            print(f"would change: {target / name}")
        print("golden files are up to date" if not changed else f"{len(changed)} would change")
        return 1 if changed else 0
    for name in changed:
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[name])
        print(f"rewrote {path}")
    print(f"{len(changed)} of {len(files)} golden files changed; review `git diff {target}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
