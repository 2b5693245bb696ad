"""Serving speed: run `fashion.serving.bench` once, print its JSON, record the `speed` section.

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

from benchmarks._results import add_no_write_flag, publish  # noqa: E402
from fashion.serving import bench  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="shipped model name (default: the best one)")
    add_no_write_flag(parser)
    args = parser.parse_args(argv)
    result = bench.run(args.model)
    print(json.dumps(result, indent=2))
    publish("speed", bench.to_markdown(result), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
