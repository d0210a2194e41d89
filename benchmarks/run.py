"""`make bench`: run every benchmarks/bench_*.py module's run() and write its figures to
benchmarks/results/<name>.json (one file per module, so a failing module does not hide the others)."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmark names (e.g. weighting); default: all")
    args = parser.parse_args(argv)
    modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if args.names:
        modules = [m for m in modules if m.removeprefix("bench_") in args.names]
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    failed = 0
    for name in modules:
        print(f">> benchmark {name}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            result = importlib.import_module(f"benchmarks.{name}").run()
        except Exception:  # report and go on: one broken benchmark must not hide the others
            traceback.print_exc()
            failed += 1
            continue
        result = {"benchmark": name, "wall_seconds": round(time.perf_counter() - start, 2), **result}
        path = out / f"{name.removeprefix('bench_')}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
        tmp.replace(path)
        print(f"<< {name}: {path}", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
