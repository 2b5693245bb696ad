"""Serving speed: run `fashion.bench` once, print its JSON, record the `speed` section.

The same measurements as `python -m fashion bench --json`, plus the markdown table in
benchmarks/RESULTS.md (date, machine, load average included).

    nice -n 19 .venv/bin/python benchmarks/speed.py [--model NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fashion import bench  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="shipped model name (default: the best one)")
    parser.add_argument("--no-write", action="store_true", help="print only; keep RESULTS.md")
    args = parser.parse_args(argv)
    result = bench.run(args.model)
    print(json.dumps(result, indent=2))
    if not args.no_write:
        from benchmarks._results import write_section

        write_section("speed", bench.to_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
