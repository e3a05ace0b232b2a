#!/usr/bin/env bash
# CPU seconds per process (workers, parameter server, raylet) over 15 s of a training run:
#   BACKEND="--backend ray" bash benchmarks/probe_cpu_per_process.sh 1   (or "--backend processes")
# run a ray-backend training for 35 s and report CPU seconds per process over the last 20 s
cd "$(dirname "$0")/.."
.venv/bin/python scripts/a3c.py $BACKEND --workers 2 --envs-per-worker 16 --max-minutes 0.6 --eval-interval 1000000000000 --run-dir /tmp/cpuprobe$1 --no-progress $2 > /tmp/cpuprobe.log 2>&1 &
sleep 14
snap() { for p in /proc/[0-9]*; do read -r line < $p/stat 2>/dev/null || continue; pid=${p#/proc/}; set -- $line; comm=$(tr '\0' ' ' < $p/cmdline 2>/dev/null | cut -c1-60); echo "$pid ${14} ${15} $comm"; done; }
snap > /tmp/s1; sleep 15; snap > /tmp/s2
python3 - <<'P'
a={l.split()[0]:l.split() for l in open('/tmp/s1')}
rows=[]
for l in open('/tmp/s2'):
    f=l.split(); 
    if f[0] in a:
        d=(int(f[1])+int(f[2])-int(a[f[0]][1])-int(a[f[0]][2]))/100/15
        if d>0.02: rows.append((d,' '.join(f[3:])[:60]))
for d,c in sorted(rows,reverse=True): print(f"{d:5.2f} {c}")
print("total", sum(d for d,_ in rows))
P
wait
grep -c . /tmp/cpuprobe$1/metrics.csv; tail -2 /tmp/cpuprobe$1/metrics.csv
