#!/usr/bin/env python3
"""Prints the kernel matrix's table from the rows' ctest JUnit files.

usage: table.py ROWDIR...  (each holds label, junit.xml and timings)
One line per test, one column per row: pass, FAIL, skip, or - (not run);
then each failure's first lines. Exits 1 when any test failed or a row
produced no results."""
import os
import re
import sys
import xml.etree.ElementTree as ET


def read(path, default=""):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return default


def why(out):
    """The lines that say what failed: the tests' FAIL: lines, else the tail."""
    lines = [l for l in out.splitlines() if l.strip()]
    picked = [l for l in lines if re.search(r"FAIL|[Ee]rror|error:|Timeout|expected", l)]
    return (picked or lines[-4:])[:6]


def main(dirs):
    rows, failures, bad = [], [], False
    for d in dirs:
        label = read(os.path.join(d, "label"), os.path.basename(d))
        results = {}
        try:
            suite = ET.parse(os.path.join(d, "junit.xml")).getroot()
        except (OSError, ET.ParseError):
            suite = None
            bad = True
            # no JUnit file: the guest died or hung mid-suite; ctest's log
            # still says which tests finished and which were running
            log = read(os.path.join(d, "log"))
            for m in re.finditer(r"Test +#\d+: (\S+) \.+\**\s*(Passed|\S+)", log):
                results[m.group(1)] = "pass" if m.group(2) == "Passed" else "FAIL"
            for m in re.finditer(r"Start +\d+: (\S+)", log):
                if m.group(1) not in results:
                    results[m.group(1)] = "HUNG"
                    failures.append((label, m.group(1), ["running when the guest stopped reporting; "
                                     "its log: " + os.path.join(d, "log")] +
                                    re.findall(r".*soft lockup.*|.*Kernel panic.*|.*BUG:.*", log)[:2]))
        for tc in suite.iter("testcase") if suite is not None else []:
            name, status = tc.get("name"), tc.get("status", "run")
            out = (tc.findtext("system-out") or "")
            if status == "run" and tc.find("failure") is None:
                results[name] = "pass"
            elif status in ("notrun", "disabled") or tc.find("skipped") is not None:
                results[name] = "skip"
            else:
                results[name] = "FAIL"
                failures.append((label, name, why(out)))
                bad = True
        boot, cmd = read(os.path.join(d, "boot-seconds")), read(os.path.join(d, "cmd-seconds"))
        suite_s = ""
        if cmd:
            a, b = (float(x) for x in cmd.split())
            suite_s = "%.0f" % (b - a)
        rows.append((label, results, boot, suite_s, read(os.path.join(d, "status"), "?")))

    tests = sorted({t for _, r, *_ in rows for t in r})
    width = max([len(t) for t in tests] + [24])
    parts = [(l.split(" / ") + ["", "", ""])[:3] for l, *_ in rows]
    widths = [max(max(len(p) for p in ps), 7) for ps in parts]
    line = "-" * (width + sum(w + 2 for w in widths))
    for i, title in enumerate(("kernel", "btf", "headers")):
        print(title.ljust(width) + "".join("  " + ps[i].ljust(w) for ps, w in zip(parts, widths)))
    print(line)
    for t in tests:
        print(t.ljust(width) + "".join("  " + r.get(t, "-").ljust(w) for (_, r, *_), w in zip(rows, widths)))
    print(line)
    for title, k in (("boot (s)", 2), ("suite (s)", 3), ("exit status", 4)):
        print(title.ljust(width) + "".join("  " + str(row[k] or "-").ljust(w) for row, w in zip(rows, widths)))
    for label, name, lines in failures:
        print("\nFAIL %s [%s]" % (name, label))
        for l in lines:
            print("    " + l[:200])
    for label, r, *_ in rows:
        if not r:
            print("\nNO RESULTS [%s]: the guest did not finish the suite" % label)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
