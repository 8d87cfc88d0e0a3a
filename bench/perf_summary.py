#!/usr/bin/env python3
"""Summarise `perf script -F ip,sym` output: only samples whose stack contains FILTER.

usage: perf script -i perf.data -F ip,sym | bench/perf_summary.py FILTER [INCLUSIVE_PATTERN ...]

Prints the self-time flat profile of the matching samples and, for each inclusive pattern,
the share of matching samples with a frame containing it.
"""
import collections
import re
import sys

from perf_breakdown import read_stacks

flt = sys.argv[1]
patterns = sys.argv[2:]
# Frames by symbol (the address where perf has none).
stacks = [[sym or ip for ip, sym in s] for s in read_stacks(sys.stdin)]

hits = [s for s in stacks if any(flt in f for f in s)]
n = len(hits) or 1
print(f"{len(hits)} of {len(stacks)} samples contain {flt!r}")
self_counts = collections.Counter(re.sub(r"\s*\(inlined\)$", "", s[0])[:110] for s in hits)
print("\nself time:")
for sym, c in self_counts.most_common(30):
    print(f"{100 * c / n:6.2f}%  {sym}")
if patterns:
    print("\ninclusive:")
    for p in patterns:
        c = sum(1 for s in hits if any(p in f for f in s))
        print(f"{100 * c / n:6.2f}%  {p}")
