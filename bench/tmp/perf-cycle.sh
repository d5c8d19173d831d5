#!/bin/bash
# run cycle.ts with perf on its redis-server
(N=60000 C=20 npx tsx tmp/cycle.ts > /tmp/cyc.txt 2>&1 &)
for i in $(seq 1 50); do PID=$(pgrep -n -f "redis-server 127.0.0.1:[0-9]" | head -1); P=$(ps -o args= -p $PID | grep -v 6379); [ -n "$P" ] && break; sleep 0.2; done
sleep 2
perf record -F 2000 -g -p $PID -o /tmp/perf.data -- sleep 3 2>&1 | tail -1
perf report -i /tmp/perf.data --no-children --sort symbol --stdio 2>/dev/null | grep -E "^ +[0-9]" | head -45
