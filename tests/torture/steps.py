#!/usr/bin/env python3
"""steps.py BEFORE AFTER EFFECTS PIDS LABELS: did a resumed job run a step twice?

BEFORE is the job's journal as the kill left it ("-" when the kill came
before the job existed), AFTER the journal once `resume` finished. EFFECTS
holds one line per side effect, the id of the step that made it (LABELS:
those ids, comma-separated); PIDS one line "MACHINE PID" per process a
start command started. A step the journal
had done before the kill must not start again, nor make its effect again;
one that was running may run again; every step ends done. Processes: each
machine's is alive once, recorded in the journal (none leaked).

Prints one line per problem as "CATEGORY: text"; exits 1 if any.
"""
import json
import os
import sys
from collections import Counter


def events(path):
    out = []
    if path == "-" or not os.path.exists(path):
        return out
    with open(path, errors="replace") as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # a torn last line
    return out


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def main(before_path, after_path, effects_path, pids_path, labels):
    before, after = events(before_path), events(after_path)
    state = {}
    for e in before:
        if "step" in e and e.get("ev") in ("start", "done", "fail", "cancel"):
            state[e["step"]] = e["ev"]
    done_before = {s for s, ev in state.items() if ev == "done"}
    running_before = {s for s, ev in state.items() if ev == "start"}
    later = after[len(before):] if before else after
    starts = Counter(e["step"] for e in later if e.get("ev") == "start")
    problems = []
    for s in sorted(done_before):
        if starts[s]:
            problems.append(f"twice: {s} started again on resume, though the journal had it done")
    final = {}
    for e in after:
        if "step" in e and e.get("ev") in ("start", "done", "fail", "cancel"):
            final[e["step"]] = e["ev"]
    states = [e.get("state") for e in after if e.get("ev") == "state"]
    if not states or states[-1] != "done":
        problems.append(f"resume: the job ended {states[-1] if states else 'without a state'}")
    for s, ev in sorted(final.items()):
        if ev != "done":
            problems.append(f"resume: step {s} ended '{ev}'")
    effects = Counter()
    if os.path.exists(effects_path):
        with open(effects_path) as f:
            effects = Counter(line.strip() for line in f if line.strip())
    for s in sorted(set(effects) | set(labels.split(","))):
        n, most = effects[s], 2 if s in running_before else 1
        if n == 0:
            problems.append(f"resume: {s} never made its effect")
        elif n > most:
            problems.append(f"twice: {s} made its effect {n} times ({'running' if s in running_before else 'done' if s in done_before else 'not started'} at the kill)")
    recorded = {e.get("pid") for e in after if e.get("ev") == "created" and e.get("kind") == "process"}
    started = {}
    if os.path.exists(pids_path):
        with open(pids_path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2:
                    started.setdefault(parts[0], []).append(int(parts[1]))
    for machine, pids in sorted(started.items()):
        for pid in pids:
            if pid not in recorded:
                problems.append(f"leak: {machine}'s process {pid} was started but never recorded in the journal"
                                f" ({'still running' if alive(pid) else 'gone'})")
        live = [p for p in pids if alive(p)]
        if len(live) != 1:
            problems.append(f"twice: {len(live)} processes of {machine} run after resume (started: {pids})")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))
