"""Prints a sweep's results (experiments/text-sweep/sweep.py's JSON lines) as a Markdown table:
one row per setting, its held-out bits per character on each seed and their mean, best first.

  python3 experiments/text-sweep/summarise.py experiments/text-sweep/results-round2.jsonl
"""
import json
import re
import statistics
import sys

rows = [json.loads(line) for f in sys.argv[1:] for line in open(f)]
groups = {}
for r in rows:
    setting = re.sub(r'-s\d+$', '', r['member']['name'])
    key = (r['ensemble'], r['steps'], setting)
    groups.setdefault(key, []).append((r['member'].get('seed', 1), r['held_out_bpc']))
print('| ensemble | steps | setting | held-out bpc by seed | mean |')
print('| --- | ---: | --- | --- | ---: |')
for (ens, steps, setting), v in sorted(groups.items(), key=lambda kv: (kv[0][0], statistics.mean(x for _, x in kv[1]))):
    seeds = ', '.join(f's{s} {x:.3f}' for s, x in sorted(v))
    print(f'| {ens} | {steps:,} | {setting} | {seeds} | {statistics.mean(x for _, x in v):.3f} |')
