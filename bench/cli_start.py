"""`socialdesk --help` start-up: the median wall time of a fresh process, over --runs runs.

Goal (issue #13): ≤ 0.3 s. Printed beside the same figure for a bare `python -c pass`, the
part no change to socialdesk can remove, so a loaded machine's figure still means something.
Runs this checkout's code (PYTHONPATH=src), not whatever is installed.

    python bench/cli_start.py            # 10 runs each
    python bench/cli_start.py --runs 20
    git archive 04c18fe src | tar -x -C /tmp/before && python bench/cli_start.py --src /tmp/before/src  # an older tree
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from _latency import REPO, code_version
from _report import add_json_option, write_json

GOAL_SECONDS = 0.3
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "socialdesk --help": [sys.executable, "-m", "socialdesk", "--help"],
    "socialdesk rules --help": [sys.executable, "-m", "socialdesk", "rules", "--help"],
}


def wall_times(argv: list[str], runs: int, env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--src", default=str(REPO / "src"), help="the source tree to time (default: this checkout's)")
    add_json_option(parser)
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": args.src}
    print(f"commit {code_version() if args.src == str(REPO / 'src') else args.src} · {os.cpu_count()} CPUs · load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} · {args.runs} runs each")
    wall_times(COMMANDS["socialdesk --help"], 1, env)  # warm the page cache and .pyc files
    medians = {}
    for what, argv in COMMANDS.items():
        times = wall_times(argv, args.runs, env)
        medians[what] = statistics.median(times)
        print(f"{what:<26} median {medians[what]:.3f} s  (min {min(times):.3f}, max {max(times):.3f})")
    help_s = medians["socialdesk --help"]
    print(f"socialdesk --help: goal ≤ {GOAL_SECONDS:.1f} s | measured {help_s:.3f} s | ratio {help_s / GOAL_SECONDS:.2f} "
          f"| socialdesk's own part {help_s - medians['python -c pass']:.3f} s")
    write_json(args.json, {"median_s": help_s, "rules_help_s": medians["socialdesk rules --help"],
                           "python_pass_s": medians["python -c pass"]})


if __name__ == "__main__":
    main()
