"""The shipped studies' wall times, read from the study files their runs wrote.

A study file records each run (start, end, workers, instances done) and each instance's
compute time on its worker. This script reports, per study: the wall time over all its runs,
the summed compute time of its instances (what one worker would take in series: the
baseline) and their ratio (the speed-up the workers gave), the slowest instance and the
largest problem. Run the studies first (``qaxai run builtin:NAME``), then::

    python benchmarks/bench_studies.py results/quick.h5 results/scaling.h5 ...
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path

import h5py

from _common import write_result


def _seconds(run: dict) -> float:
    start, end = (datetime.fromisoformat(run[k]) for k in ("started", "finished"))
    return (end - start).total_seconds()


def study_row(path: Path) -> dict:
    """Wall and compute times of one study file."""
    with h5py.File(path, "r") as f:
        runs = json.loads(f.attrs["runs"])
        name = Path(str(f.attrs.get("config_source", path.stem))).stem
        seconds, largest, slowest = 0.0, 0, (0.0, "")
        for iid, g in f["instances"].items():
            s = float(g.attrs.get("seconds", 0.0))
            if s != s:  # a failed instance records no time
                continue
            seconds += s
            slowest = max(slowest, (s, iid))
            largest = max(largest, int(json.loads(g.attrs["spec"]).get("n", 0)))
        count = len(f["instances"])
    wall = sum(_seconds(r) for r in runs)
    return {"study": name, "instances": count, "runs": len(runs),
            "workers": max((r["workers"] for r in runs), default=0), "wall_s": wall,
            "compute_s": seconds, "speedup": seconds / wall if wall > 0 else float("nan"),
            "slowest_s": slowest[0], "slowest": slowest[1], "largest_n": largest or None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+", type=Path, help="study files written by qaxai run")
    ap.add_argument("--note", action="append", default=[],
                    help="a line printed under the table (e.g. what else ran on the machine)")
    args = ap.parse_args()
    rows = [study_row(p) for p in args.files]
    for r in rows:
        print(f"{r['study']:<12} {r['instances']:5d} instances, {r['runs']} run(s), "
              f"{r['workers']} workers: wall {r['wall_s']:.0f} s, compute {r['compute_s']:.0f} s "
              f"(x{r['speedup']:.2f}); slowest {r['slowest']} {r['slowest_s']:.0f} s")
    write_result(
        "studies", title="The shipped studies: wall time",
        what="Each shipped study run with `qaxai run builtin:NAME` (every run of its file "
             "summed, so a resumed study counts each part), the instances' summed compute "
             "time on their workers, and the slowest instance. The model's training, when it "
             "is not cached, is inside the wall time.",
        baseline="the instances' summed compute time, what one worker takes in series; the "
                 "ratio is the speed-up its workers gave",
        columns=[("study", "study"), ("instances", "instances"), ("runs", "runs"),
                 ("workers", "workers"), ("wall_s", "wall (s)"), ("compute_s", "compute (s)"),
                 ("speedup", "compute / wall"), ("slowest", "slowest instance"),
                 ("slowest_s", "its time (s)"), ("largest_n", "largest n")],
        rows=rows, notes=args.note, arguments=[str(p) for p in args.files])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
