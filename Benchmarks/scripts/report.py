#!/usr/bin/env python3
"""Turn a package-benchmark JMH export of EventLogBenchmarks into events per second and the issue's ratios.

Usage: report.py EXPORT.jmh.json [--strict] [--partial] [--memory-10m EXPORT.json]

Reads the median (p50) wall-clock time of each benchmark, divides the events one iteration handles by it, prints a
Markdown table of events per second, and the ratios against the raw-LMDB baseline with their targets. The events
per iteration come from the benchmark's "Events in the store" metric where it records one (the caseload benchmarks:
the store holds slightly more events than its round name says), else from the table below, which must match
Benchmarks/EventLogBenchmarks. Exits 2 when the export is empty or a benchmark is missing (a --filter that matched
nothing exports an empty table and would otherwise pass silently); with --strict, exits 1 when a target is missed.
With --partial, a run of some of the benchmarks (several --filter options) is reported: the benchmarks it holds, and
the ratios and floors whose parts are all there; what it leaves out is listed on standard error, and --strict then
judges only the targets it could evaluate. An empty export still exits 2.

Memory: the rebuilds' anonymous resident peaks are printed, and the memory target (a rebuild of 10M events peaks at
most 1.5 times as high as one of 1M) is judged when the 10M figure is given. package-benchmark's JMH export leaves
out any benchmark whose iteration takes over two seconds (its throughput rounds to 0 iterations per second, and the
JMH format needs it), so the 10M rebuild comes from a run of its own exported with --format jsonSmallerIsBetter:

    CASELEDGER_BENCH_10M=1 swift package --disable-sandbox benchmark \
        --filter 'Rebuild\.CaseLedger\.allViews10M' --format jsonSmallerIsBetter --path DIR
    report.py DIR1/Current_run.jmh.json --memory-10m DIR/Current_run.json
"""
import json
import sys

EVENTS_PER_ITERATION = {
    "Append.CaseLedger.durable.batch1": 1,
    "Append.CaseLedger.durable.batch100": 100,
    "Append.CaseLedger.durable.batch1000": 1000,
    "Append.RawLMDB.durable.batch1": 1,
    "Append.RawLMDB.durable.batch100": 100,
    "Append.RawLMDB.durable.batch1000": 1000,
    "Append.CaseLedger.durable.concurrent64x1": 64,
    "Append.RawLMDB.durable.concurrent64x1": 64,
    "Scan.CaseLedger.decode1M": 1_000_000,
    "Scan.CaseLedger.view1M": 1_000_000,
    "Scan.RawLMDB.cursor1M": 1_000_000,
    "Scan.RawLMDB.cursorEveryLine1M": 1_000_000,
    # 64 clients × (register, startMediation, reachAgreement, close, evaluate) = 320 commands, 576 events.
    "Command.CaseLedger.durable.concurrent64x5": 576,
    # The same command benchmark with all six built-in views kept inline.
    "Command.CaseLedger.durable.concurrent64x5.inlineViews": 576,
    # … with only the case summary, deadlines and board inline (the others asynchronous).
    "Command.CaseLedger.durable.concurrent64x5.inlineCoreViews": 576,
    # The realistic caseload store holds slightly more than 1M events (generation stops at the first batch of cases
    # past 1M); these benchmarks record the store's own count, which replaces the round figure here.
    "Rebuild.CaseLedger.allViews1M": 1_000_000,
    # Run only with CASELEDGER_BENCH_10M=1: never required, reported when present.
    "Rebuild.CaseLedger.allViews10M": 10_000_000,
    "Scan.RawLMDB.cursorCaseload1M": 1_000_000,
    # The zero-copy scan of the same store decoding each event's RecordHeader: the floor of a header-based rebuild.
    "Scan.CaseLedger.headersCaseload1M": 1_000_000,
    # The zero-copy scan of the same store, nothing decoded: the one scan any rebuild makes.
    "Scan.CaseLedger.eventsCaseload1M": 1_000_000,
    # The rows a rebuild of all six views writes for that store, appended with LMDB's C API and nothing else.
    "Write.RawLMDB.viewRowsCaseload1M": 1_000_000,
    # The raw floor of those commits: 5 durable transactions of 115 events.
    "Append.RawLMDB.durable.rounds5x115": 575,
    # The same five commands of one case decided in memory (no log): the records they produce.
    "Command.Workflow.decideLifeCycle": 9,
}

# (label, parts run one after the other, denominator): the rate of doing every part once per event.
FLOORS = [
    ("Rebuild floor with views that cost nothing (in-place scan, then raw append of the rows) vs raw cursor scan",
     ["Scan.CaseLedger.eventsCaseload1M", "Write.RawLMDB.viewRowsCaseload1M"], "Scan.RawLMDB.cursorCaseload1M"),
]

# Benchmarks a run need not hold even without --partial.
OPTIONAL = {"Rebuild.CaseLedger.allViews10M"}

# The store's event count, in three parts of three digits (package-benchmark's histograms are exact only below 2,048).
EVENTS_METRICS = [("Events in the store (millions)", 1_000_000), ("Events in the store (thousands)", 1_000),
                  ("Events in the store (units)", 1)]
# The benchmarks that record EVENTS_METRICS, and those that record ANONYMOUS_PEAK. package-benchmark's export can
# carry a custom metric over to the benchmark run after the one that recorded it, so only these are read.
RECORDS_EVENTS = {"Rebuild.CaseLedger.allViews1M", "Rebuild.CaseLedger.allViews10M", "Scan.RawLMDB.cursorCaseload1M",
                  "Scan.CaseLedger.headersCaseload1M", "Scan.CaseLedger.eventsCaseload1M",
                  "Write.RawLMDB.viewRowsCaseload1M"}
RECORDS_PEAK = {"Rebuild.CaseLedger.allViews1M", "Rebuild.CaseLedger.allViews10M"}
ANONYMOUS_PEAK = "Memory (anonymous resident peak, MB)"
# The memory target: the peak of a 10M-event rebuild at most this many times the peak of a 1M-event one.
MEMORY = ("Rebuild.CaseLedger.allViews1M", "Rebuild.CaseLedger.allViews10M", 1.5)

COMMANDS_PER_ITERATION = {"Command.CaseLedger.durable.concurrent64x5": 320, "Command.Workflow.decideLifeCycle": 5}

# (label, numerator, denominator, target ratio or None)
RATIOS = [
    ("Durable batched append (1,000/call) vs raw LMDB", "Append.CaseLedger.durable.batch1000",
     "Append.RawLMDB.durable.batch1000", 0.50),
    ("Durable batched append (100/call) vs raw LMDB", "Append.CaseLedger.durable.batch100",
     "Append.RawLMDB.durable.batch100", None),
    ("Durable single-event append vs raw LMDB", "Append.CaseLedger.durable.batch1",
     "Append.RawLMDB.durable.batch1", None),
    ("64 concurrent appenders (group commit) vs one event per commit", "Append.CaseLedger.durable.concurrent64x1",
     "Append.CaseLedger.durable.batch1", 10.0),
    ("64 concurrent appenders: CaseLedger vs raw LMDB (one txn each)", "Append.CaseLedger.durable.concurrent64x1",
     "Append.RawLMDB.durable.concurrent64x1", None),
    ("Full scan, zero-copy decoding (forEachEvent) vs raw cursor scan", "Scan.CaseLedger.view1M",
     "Scan.RawLMDB.cursor1M", 0.30),
    ("Full scan, RecordedEvent values (read batches) vs raw cursor scan", "Scan.CaseLedger.decode1M",
     "Scan.RawLMDB.cursor1M", 0.30),
    ("Workflow commands, 64 clients (check + durable append) vs raw LMDB batched (1,000/txn)",
     "Command.CaseLedger.durable.concurrent64x5", "Append.RawLMDB.durable.batch1000", 0.25),
    ("Raw floor of the 64-client commits (5 × 115 events) vs raw LMDB batched (1,000/txn)",
     "Append.RawLMDB.durable.rounds5x115", "Append.RawLMDB.durable.batch1000", None),
    ("Workflow commands, 64 clients vs the raw floor of the same commits (5 × 115 events)",
     "Command.CaseLedger.durable.concurrent64x5", "Append.RawLMDB.durable.rounds5x115", None),
    ("Rebuild of all six views vs raw cursor scan of the same caseload store",
     "Rebuild.CaseLedger.allViews1M", "Scan.RawLMDB.cursorCaseload1M", 0.25),
    ("Header scan (the floor of any header-based rebuild) vs raw cursor scan of the same caseload store",
     "Scan.CaseLedger.headersCaseload1M", "Scan.RawLMDB.cursorCaseload1M", None),
    ("Rebuild of all six views vs the header scan of the same caseload store",
     "Rebuild.CaseLedger.allViews1M", "Scan.CaseLedger.headersCaseload1M", None),
    ("Raw append of the rows a rebuild of all views writes (nothing computed) vs raw cursor scan",
     "Write.RawLMDB.viewRowsCaseload1M", "Scan.RawLMDB.cursorCaseload1M", None),
    ("Commands without views vs with all six views inline (≥ 50 % means inline costs ≤ 2×)",
     "Command.CaseLedger.durable.concurrent64x5.inlineViews", "Command.CaseLedger.durable.concurrent64x5", 0.50),
    ("Commands without views vs with case summary, deadlines and board inline",
     "Command.CaseLedger.durable.concurrent64x5.inlineCoreViews", "Command.CaseLedger.durable.concurrent64x5", None),
    ("Workflow commands, 64 clients vs raw LMDB batched (100/txn)",
     "Command.CaseLedger.durable.concurrent64x5", "Append.RawLMDB.durable.batch100", None),
    ("Workflow commands, 64 clients vs 64 concurrent raw appends through the log",
     "Command.CaseLedger.durable.concurrent64x5", "Append.CaseLedger.durable.concurrent64x1", None),
]


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 0 if len(argv) >= 2 else 2
    strict = "--strict" in argv[2:]
    partial = "--partial" in argv[2:]
    memory_10m = None
    if "--memory-10m" in argv[2:]:
        at = argv.index("--memory-10m", 2)
        if at + 1 >= len(argv):
            print("error: --memory-10m needs a jsonSmallerIsBetter export", file=sys.stderr)
            return 2
        memory_10m = argv[at + 1]
    with open(argv[1], encoding="utf-8") as handle:
        export = json.load(handle)
    if not export:
        print("error: the export is empty (did --filter match no benchmark?)", file=sys.stderr)
        return 2
    medians_us = {}
    events = dict(EVENTS_PER_ITERATION)
    peaks_mb = {}
    for element in export:
        name = element["benchmark"].split("EventLogBenchmarks.", 1)[-1]
        metrics = element.get("secondaryMetrics", {})
        wall = metrics.get("Time (wall clock)")
        if wall is None or wall.get("scoreUnit") != "μs":
            print(f"error: {name} has no wall-clock figure in μs", file=sys.stderr)
            return 2
        medians_us[name] = float(wall["scorePercentiles"]["50.0"])
        if name in RECORDS_EVENTS:
            total = 0
            for metric, scale in EVENTS_METRICS:
                if metric not in metrics:
                    print(f"error: {name} has no '{metric}' figure (an export of an older harness?)", file=sys.stderr)
                    return 2
                parts = {int(value) for run in metrics[metric]["rawData"] for value in run}
                if len(parts) != 1 or not 0 <= min(parts) < 1_000:
                    print(f"error: {name} recorded {sorted(parts)} as '{metric}', not one part", file=sys.stderr)
                    return 2
                total += parts.pop() * scale
            if total <= 0:
                print(f"error: {name} recorded no events", file=sys.stderr)
                return 2
            events[name] = total
        if name in RECORDS_PEAK and ANONYMOUS_PEAK in metrics:
            peaks_mb[name] = max(int(value) for run in metrics[ANONYMOUS_PEAK]["rawData"] for value in run)
    if memory_10m is not None:
        with open(memory_10m, encoding="utf-8") as handle:
            entries = json.load(handle)
        wanted = f"{MEMORY[1]} - {ANONYMOUS_PEAK}"
        found = [entry for entry in entries if isinstance(entry, dict) and entry.get("name") == wanted]
        if len(found) != 1:
            print(f"error: {memory_10m} has no '{wanted}' figure", file=sys.stderr)
            return 2
        # The metric is recorded in MB, unscaled ("#"); a scaled unit (K, M) would be a thousandfold off.
        if found[0].get("unit") != "#":
            print(f"error: '{wanted}' is in unit {found[0].get('unit')!r}, not an unscaled count", file=sys.stderr)
            return 2
        # Its value is the 99th percentile; the 10M rebuild runs one iteration, so it is that iteration's peak.
        peaks_mb[MEMORY[1]] = int(found[0]["value"])
    missing = [name for name in EVENTS_PER_ITERATION if name not in medians_us and name not in OPTIONAL]
    if missing and not partial:
        print("error: missing from the export: " + ", ".join(missing), file=sys.stderr)
        return 2
    if missing:
        print("note: not in this run: " + ", ".join(missing), file=sys.stderr)
    unknown = [name for name in medians_us if name not in EVENTS_PER_ITERATION]
    if unknown:
        print("note: not reported (unknown to this script): " + ", ".join(unknown), file=sys.stderr)
    present = [name for name in EVENTS_PER_ITERATION if name in medians_us]
    if not present:
        print("error: the export holds none of the benchmarks this report knows", file=sys.stderr)
        return 2

    rate = {name: events[name] / (medians_us[name] / 1e6) for name in present}
    print("| Benchmark | events / iteration | median time / iteration | events / s |")
    print("|---|---:|---:|---:|")
    for name in present:
        print(f"| `{name}` | {events[name]:,} | {medians_us[name]:,.1f} µs | {rate[name]:,.0f} |")
    for name, commands in COMMANDS_PER_ITERATION.items():
        if name in rate:
            print(f"\n`{name}`: {commands / (medians_us[name] / 1e6):,.0f} commands / s")
    print()
    print("| Ratio | value | target | met |")
    print("|---|---:|---:|:---:|")
    missed = False
    for label, numerator, denominator, target in RATIOS:
        if numerator not in rate or denominator not in rate:
            if target is not None:
                print(f"note: target not evaluated, a part is not in this run: {label}", file=sys.stderr)
            continue
        ratio = rate[numerator] / rate[denominator]
        shown = f"{ratio * 100:.1f} %" if ratio < 2 and (target is None or target < 1) else f"{ratio:.1f}×"
        if target is None:
            print(f"| {label} | {shown} | — | — |")
            continue
        met = ratio >= target
        missed = missed or not met
        wanted = f"≥ {target * 100:.0f} %" if target < 1 else f"≥ {target:.0f}×"
        print(f"| {label} | {shown} | {wanted} | {'yes' if met else 'no'} |")
    for label, parts, denominator in FLOORS:
        if any(name not in rate for name in parts + [denominator]):
            continue
        if len({events[name] for name in parts + [denominator]}) != 1:
            print(f"error: the parts of a floor count different events: {label}", file=sys.stderr)
            return 2
        together = events[denominator] / (sum(medians_us[part] for part in parts) / 1e6)
        print(f"| {label} | {together / rate[denominator] * 100:.1f} % | — | — |")
    if peaks_mb:
        print()
        print("| Rebuild | events | anonymous resident peak (highest iteration) |")
        print("|---|---:|---:|")
        for name in sorted(peaks_mb):
            shown = f"{events[name]:,}" if name in events and name in medians_us else "—"
            print(f"| `{name}` | {shown} | {peaks_mb[name]} MB |")
    small, large, factor = MEMORY
    if small in peaks_mb and large in peaks_mb:
        growth = peaks_mb[large] / peaks_mb[small]
        met = growth <= factor
        missed = missed or not met
        print()
        print("| Memory target | value | target | met |")
        print("|---|---:|---:|:---:|")
        print(f"| Anonymous peak, 10M-event rebuild vs 1M | {growth:.2f}× | ≤ {factor}× | {'yes' if met else 'no'} |")
    elif small in peaks_mb:
        print("note: memory target not evaluated: give the 10M rebuild's figures with --memory-10m (see --help)",
              file=sys.stderr)
    elif large in peaks_mb:
        print("note: memory target not evaluated: the export holds no 1M rebuild", file=sys.stderr)
    return 1 if (strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
