#!/bin/bash
# renice the bench's private redis-server once it is up
for i in $(seq 1 100); do
  for pid in $(pgrep -f "redis-server 127.0.0.1:"); do
    if ! ps -o args= -p $pid | grep -q 6379; then renice -n ${NICE:--10} -p $pid >/dev/null; echo reniced $pid; exit 0; fi
  done
  sleep 0.1
done
