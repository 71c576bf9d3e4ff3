# A real capture for P1 on real data (bench/run --only P1 --p1-file FILE), run by tracevm:
#
#   ../shared/tools/tracevm/tracevm bench/capture_real.sh OUTDIR 2 3G
#
# Debian's 6.1 cloud kernel under QEMU: every function (function_graph), scheduler and irq
# events, buffers of 192 MB per CPU that stop when full (nooverwrite), filled by reads,
# fsync'ed writes and directory walks on btrfs, then `trace-cmd extract` (a v7 zstd trace.dat,
# as trace-cmd writes by default).  Session 10's capture: 11,807,194 records, 92 MB
# (409 MB as `trace-cmd convert --compression none`).  Too big to commit: make it again.
O=$1; T=/sys/kernel/tracing
t() { sync; echo "[$(cut -d' ' -f1 /proc/uptime)] $*"; }
t start; uname -a
echo '*kprobe*' > $T/set_ftrace_notrace
mkfs.btrfs -q -f /dev/vda && mkdir -p /mnt/b && mount /dev/vda /mnt/b || t "btrfs mount failed"
for i in 1 2 3 4; do dd if=/dev/urandom of=/mnt/b/f$i bs=1M count=4 2>/dev/null; done; sync; t "files ready"
echo 0 > $T/tracing_on; echo nop > $T/current_tracer; echo > $T/trace
echo nooverwrite > $T/trace_options
echo 196608 > $T/buffer_size_kb
for e in sched/sched_switch sched/sched_wakeup sched/sched_migrate_task irq/irq_handler_entry irq/irq_handler_exit irq/softirq_entry irq/softirq_exit; do echo 1 > $T/events/$e/enable; done
# patch every call site while the machine is quiet, then start the load
echo function_graph > $T/current_tracer
t "tracer set"
load() { # load N: reads, writes with fsync, directory walks, until the flag file goes
  i=0
  while [ -e /tmp/run ]; do
    cat /mnt/b/f$((i % 4 + 1)) > /dev/null
    dd if=/dev/zero of=/mnt/b/w$1_$((i % 8)) bs=4k count=8 conv=fsync 2>/dev/null
    ls -R /mnt/b /bin > /dev/null 2>&1
    [ $((i % 16)) -eq 0 ] && echo 3 > /proc/sys/vm/drop_caches
    i=$((i+1))
  done
}
touch /tmp/run
load 1 & load 2 &
echo 1 > $T/tracing_on
n=0
while [ $n -lt 900 ]; do
  sleep 5; n=$((n+5))
  full=1
  for c in 0 1; do
    d=$(awk '/dropped events/{print $3}' $T/per_cpu/cpu$c/stats)
    [ "${d:-0}" -gt 0 ] || full=0
  done
  e=$(cat $T/per_cpu/cpu0/stats $T/per_cpu/cpu1/stats | awk '/^entries/{s+=$2} END{print s}')
  t "after ${n}s entries $e full $full"
  [ $full -eq 1 ] && break
done
echo 0 > $T/tracing_on; rm -f /tmp/run; wait
t "traced"
cat $T/per_cpu/cpu0/stats $T/per_cpu/cpu1/stats
timeout -s INT 900 trace-cmd extract -o $O/big_real.dat > $O/extract.log 2>&1; t "extracted"
ls -la $O
sync
