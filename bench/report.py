#!/usr/bin/env python3
"""Parses the bench tools' outputs and renders the markdown tables.

Used by bench/run.sh and bench/idle-memory.sh:

  report.py parse TOOL RUN_DIR NAME ROUND   one JSON line for one measured run
  report.py summary STAMPEDE_STDOUT         stampede's totals as JSON
  report.py throughput RESULTS.jsonl        markdown: table and ratios
  report.py idle RESULTS.jsonl              markdown: idle memory per user
  report.py splice DOC SECTION FILE         FILE into DOC between markers

Latencies are in milliseconds, rates in requests per second.
"""

import csv
import json
import re
import statistics
import sys
from pathlib import Path

# --- parsing the tools' outputs -------------------------------------------

UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def wrk_ms(text):
    """'301.00us' / '1.20ms' / '1.01s' -> milliseconds."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * UNIT_MS[m.group(2)]


def parse_wrk(out):
    r = {"requests": int(re.search(r"(\d+) requests in", out).group(1))}
    r["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        r[key] = wrk_ms(re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M).group(1))
    # wrk counts socket errors and non-2xx/3xx answers separately.
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    r["failures"] = errors
    return r


def parse_oha(out):
    data = json.loads(out)
    summary = data["summary"]
    codes = data.get("statusCodeDistribution", {})
    # Requests still in flight at the deadline are cut off and listed as
    # errors; they are not failures, and wrk and stampede do not count them.
    errors = {k: n for k, n in data.get("errorDistribution", {}).items() if "deadline" not in k}
    answered = sum(codes.values())
    bad = sum(n for code, n in codes.items() if not code.startswith(("2", "3")))
    pct = data["latencyPercentiles"]
    return {
        # Completed requests over the run time, as wrk and stampede count.
        "rps": answered / summary["total"],
        "requests": answered,
        "failures": bad + sum(errors.values()),
        "p50_ms": pct["p50"] * 1000,
        "p99_ms": pct["p99"] * 1000,
    }


SUMMARY_RE = re.compile(
    r"^scenario (?P<name>\S+) against (?P<host>\S+): (?P<users>\d+) users for (?P<time>\S+), "
    r"(?P<requests>\d+) requests, (?P<failures>\d+) failures \([\d.]+%\), (?P<rps>[\d.]+) req/s",
    re.M,
)


def parse_stampede_summary(out):
    m = SUMMARY_RE.search(out)
    if not m:
        return None
    return {
        "requests": int(m["requests"]),
        "failures": int(m["failures"]),
        "rps": float(m["rps"]),
        "users": int(m["users"]),
        "run_time": m["time"],
    }


def table_rows(out, title):
    """Rows (lists of cells) of the box table that follows the line `title`."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("└"):
            break
        if line.startswith("│"):
            rows.append(line.strip("│ ").split())
    return rows


def parse_stampede(out):
    r = parse_stampede_summary(out)
    if r is None:
        raise ValueError("no summary line in stampede's output")
    rows = table_rows(out, "Response time percentiles")
    header = rows[0]  # Type Name 50% 66% ... 100% # reqs
    agg = next(row for row in rows if "Aggregated" in row)
    # The Aggregated row has no Type cell: align both on their last cells.
    cols = header[2:-2]
    values = agg[len(agg) - len(cols) - 1 : -1]
    pct = dict(zip(cols, (float(v) for v in values)))
    r["p50_ms"], r["p99_ms"] = pct["50%"], pct["99%"]
    return r


def parse_locust_csv(stats_csv):
    """Locust's NAME_stats.csv (--csv NAME): its Aggregated row.

    Locust writes this file every second while it runs and not again after
    its users stop: it misses the last second or so of the run. Only the
    fallback when the final summary is missing (a run killed by timeout).
    """
    with open(stats_csv, newline="") as f:
        agg = next(row for row in csv.DictReader(f) if row["Name"] == "Aggregated")
    return {
        "requests": int(agg["Request Count"]),
        "failures": int(agg["Failure Count"]),
        "rps": float(agg["Requests/s"]),
        "p50_ms": float(agg["50%"]),
        "p99_ms": float(agg["99%"]),
        "counts_from": "csv",
    }


def parse_locust_summary(out):
    """The final summary Locust prints (--only-summary, on stderr): the
    Aggregated rows of its request table and of its percentile table.

    Request table:    Aggregated  17875  0(0.00%) | 9 0 78 8 | 3743.66 0.00
    (# reqs, # fails, | avg min max median |, req/s failures/s). req/s is
    Locust's own: the requests over the time from its first user's start to
    the end of the run (its run time), as wrk and stampede count. Its
    percentiles are rounded to whole milliseconds (below 100 ms).
    """
    lines = out.splitlines()
    agg = [i for i, line in enumerate(lines) if line.split()[:1] == ["Aggregated"]]
    if len(agg) < 2:
        return None
    cells = lines[agg[0]].split()
    fails = re.fullmatch(r"(\d+)\(.*\)", cells[2])
    pipes = [i for i, c in enumerate(cells) if c == "|"]
    r = {
        "requests": int(cells[1]),
        "failures": int(fails.group(1) if fails else cells[2]),
        "rps": float(cells[pipes[1] + 1]),
    }
    head = next(lines[i] for i in range(agg[1], -1, -1) if "50%" in lines[i]).split()
    cols = [c for c in head if c.endswith("%")]
    values = lines[agg[1]].split()[1 : 1 + len(cols)]
    pct = dict(zip(cols, values))
    r["p50_ms"], r["p99_ms"] = float(pct["50%"]), float(pct["99%"])
    return r


def parse_locust(run_dir, name):
    # Locust prints its summary through its logger, on stderr.
    text = (run_dir / f"{name}.err").read_text() + (run_dir / f"{name}.out").read_text()
    return parse_locust_summary(text) or parse_locust_csv(run_dir / f"{name}_stats.csv")


PARSERS = {"wrk": parse_wrk, "oha": parse_oha, "stampede": parse_stampede, "stampede-shop": parse_stampede}
# Tools parsed from their run's directory and name rather than from stdout.
DIR_PARSERS = {"locust-fast": parse_locust, "locust-http": parse_locust}


def parse_run(tool, run_dir, name, round_):
    run_dir = Path(run_dir)
    r = {"tool": tool, "round": int(round_), "name": name}
    try:
        if tool in DIR_PARSERS:
            r.update(DIR_PARSERS[tool](run_dir, name))
        else:
            r.update(PARSERS[tool]((run_dir / f"{name}.out").read_text()))
    except Exception as e:  # a failed run is reported, not fatal
        r["error"] = f"cannot parse {name}.out: {e!r}"
    # GNU time writes "Command exited with non-zero status N" before the
    # format line when the command fails: the numbers are on the last line.
    time_lines = (run_dir / f"{name}.time").read_text().split("\n")
    user, sys_, maxrss, elapsed, status = [x for x in time_lines if x.strip()][-1].split()
    r.update(
        cpu_s=round(float(user) + float(sys_), 2),
        user_s=float(user),
        sys_s=float(sys_),
        rss_kb=int(maxrss),
        elapsed_s=float(elapsed),
        exit=int(status),
    )
    target_cpu, served = (run_dir / f"{name}.target").read_text().split()
    r["target_cpu_s"], r["served"] = float(target_cpu), int(served)
    if r.get("requests"):
        r["cpu_ms_per_1k"] = round(r["cpu_s"] / r["requests"] * 1e6, 1)
    return r


# --- markdown ---------------------------------------------------------------


def fmt(x, digits=0):
    if x is None:
        return "–"
    return f"{x:,.{digits}f}"


def throughput_md(results):
    out = []
    out.append(
        "| round | generator | req/s | p50 ms | p99 ms | requests | failures | target served | "
        "generator CPU s | generator core use | CPU ms / 1k req | peak RSS MB | target core busy |"
    )
    out.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in results:
        if "error" in r:
            out.append(f"| {r['round']} | {r['tool']} | error: {r['error']} |" + " |" * 11)
            continue
        wall = r["elapsed_s"] or None
        busy = r["target_cpu_s"] / wall if wall else None
        use = r["cpu_s"] / wall if wall else None
        out.append(
            f"| {r['round']} | {r['tool']} | {fmt(r['rps'])} | {fmt(r['p50_ms'], 2)} | {fmt(r['p99_ms'], 2)} | "
            f"{fmt(r['requests'])} | {fmt(r['failures'])} | {fmt(r['served'])} | {fmt(r['cpu_s'], 1)} | "
            f"{fmt(100 * use)}% | {fmt(r['cpu_ms_per_1k'], 1)} | {fmt(r['rss_kb'] / 1024, 1)} | {fmt(100 * busy)}% |"
        )
    out.append("")
    out.append(
        "*target served*: requests the target counted during the run (nginx stub_status, the shop's "
        "`/_stats`); *generator core use* and *target core busy*: CPU time over the run's wall time "
        "(100% = that core was saturated; well below 100% for both means they wait on each other, "
        "or other processes of this shared machine took the core); CPU and peak RSS are the "
        "generator's, from GNU time, over its whole process (for Locust, including about 0.3 s of "
        "CPU to start Python and import Locust)."
    )
    out.append("")

    # Ratios, within each round (same minutes of the same noisy machine).
    rounds = sorted({r["round"] for r in results})
    by = {(r["round"], r["tool"]): r for r in results if "error" not in r}
    # (label, tool a, tool b, key, target): a's key over b's. "req_per_cpu_s"
    # is 1 / CPU per request: requests per CPU second, the req/s ratio the two
    # would have with one saturated core each.
    ratios = [
        ("stampede / wrk (plain GET req/s)", "stampede", "wrk", "rps", ">= 0.8"),
        ("stampede / oha (plain GET req/s)", "stampede", "oha", "rps", ">= 1.0"),
        ("stampede / Locust FastHttpUser (plain GET req/s)", "stampede", "locust-fast", "rps", ">= 12"),
        ("stampede / Locust HttpUser (plain GET req/s)", "stampede", "locust-http", "rps", ""),
        ("stampede shop scenario / stampede plain GET (req/s)", "stampede-shop", "stampede", "rps", ""),
        ("stampede / wrk (CPU per request)", "stampede", "wrk", "cpu_ms_per_1k", ""),
        ("stampede / oha (CPU per request)", "stampede", "oha", "cpu_ms_per_1k", ""),
        ("stampede / Locust FastHttpUser (requests per CPU second)", "stampede", "locust-fast", "req_per_cpu_s", ">= 12"),
        ("stampede / Locust HttpUser (requests per CPU second)", "stampede", "locust-http", "req_per_cpu_s", ""),
    ]

    def value(r, key):
        if key == "req_per_cpu_s":
            return r["requests"] / r["cpu_s"] if r.get("requests") and r.get("cpu_s") else None
        return r.get(key)

    rows = []
    for label, a, b, key, target in ratios:
        vals = []
        for n in rounds:
            ra, rb = by.get((n, a)), by.get((n, b))
            va, vb = (value(ra, key), value(rb, key)) if ra and rb else (None, None)
            vals.append(va / vb if va is not None and vb else None)
        if all(v is None for v in vals):
            continue  # a tool of this ratio was not run (TOOLS) or failed
        cells = [fmt(v, 2) + ("x" if v is not None else "") for v in vals]
        if len(rounds) > 1:
            known = [v for v in vals if v is not None]
            cells.append(fmt(statistics.median(known), 2) + "x" if known else "–")
        rows.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")
    if rows:
        cols = [f"round {n}" for n in rounds] + (["median"] if len(rounds) > 1 else [])
        out.append("| ratio | " + " | ".join(cols) + " | target |")
        out.append("|---|" + "--:|" * len(cols) + "---|")
        out.extend(rows)
    return "\n".join(out) + "\n"


def idle_md(results):
    base = next((r for r in results if r.get("users") == 1 and r.get("vmrss_kb")), None)
    out = [
        "| users | VmRSS MB | of which huge pages MB | VmHWM MB | threads | connections open | requests | failures | kB per idle user | peak kB per user |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in results:
        if "skipped" in r:
            out.append(f"| {fmt(r['users'])} | skipped: {r['skipped']} |" + " |" * 8)
            continue
        s = r.get("summary") or {}
        per_user = peak_per_user = None
        if base and r["users"] > 1 and r.get("vmrss_kb"):
            per_user = (r["vmrss_kb"] - base["vmrss_kb"]) / (r["users"] - 1)
            peak_per_user = (r["vmhwm_kb"] - base["vmhwm_kb"]) / (r["users"] - 1)
        mb = lambda kb: fmt(kb / 1024, 1) if kb else "–"  # noqa: E731
        out.append(
            f"| {fmt(r['users'])} | {mb(r.get('vmrss_kb'))} | {mb(r.get('anon_huge_kb'))} | {mb(r.get('vmhwm_kb'))} | {fmt(r.get('threads'))} | "
            f"{fmt(r.get('established'))} | {fmt(s.get('requests'))} | {fmt(s.get('failures'))} | "
            f"{fmt(per_user, 1) if per_user is not None else '(baseline)' if r['users'] == 1 else '–'} | "
            f"{fmt(peak_per_user, 1)} |"
        )
    out.append("")
    out.append(
        "*VmRSS*: stampede's resident memory once all users are spawned and idle; *huge pages*: "
        "the part of it in transparent huge pages (AnonHugePages); *VmHWM*: its peak so far; *connections open*: established TCP connections to nginx at that moment; "
        "*kB per idle user* = (VmRSS(N) - VmRSS(1)) / (N - 1), target <= 20 kB; *peak kB per user*: the "
        "same with VmHWM, so including what the ramp used and the allocator has not yet returned."
    )
    return "\n".join(out) + "\n"


# --- docs/BENCHMARKS.md -------------------------------------------------------


def splice(doc, section, content_file):
    doc = Path(doc)
    if str(doc) == "/dev/null":
        return
    begin, end = f"<!-- bench:{section}:begin -->", f"<!-- bench:{section}:end -->"
    block = f"{begin}\n{Path(content_file).read_text().rstrip()}\n{end}"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        before, rest = text.split(begin, 1)
        after = rest.split(end, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "parse":
        print(json.dumps(parse_run(*args)))
    elif cmd == "summary":
        print(json.dumps(parse_stampede_summary(Path(args[0]).read_text())))
    elif cmd == "throughput":
        sys.stdout.write(throughput_md(read_jsonl(args[0])))
    elif cmd == "idle":
        sys.stdout.write(idle_md(read_jsonl(args[0])))
    elif cmd == "splice":
        splice(*args)
    else:
        sys.exit(f"unknown command {cmd}\n{__doc__}")


if __name__ == "__main__":
    main(sys.argv)
