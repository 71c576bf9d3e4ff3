# A real large kernel text in its default format, for the text pieces (bench/RESULTS.md,
# session 14), run by tracevm:
#
#   ../shared/tools/tracevm/tracevm bench/capture_default_text.sh OUTDIR 2 3G
#
# Debian's 6.1 cloud kernel under QEMU: vfs_read/vfs_write graphs of cat and dd on btrfs,
# 48 MB ring buffers, default trace options (no proc column: tasks are named by context-switch
# banners only), saved as the kernel's text (big.txt, ~90 MB) and as a trace.dat of the same
# buffers (big.dat, `trace-cmd extract`).  Session 14's capture: CPU 0 overran 1.1M events and
# has no banner at all, CPU 1's first banner comes 10 MB in.  Too big to commit: make it again.
O=$1; T=/sys/kernel/tracing
t() { sync; echo "[$(cut -d' ' -f1 /proc/uptime)] $*"; }
echo '*kprobe*' > $T/set_ftrace_notrace
mkfs.btrfs -q -f /dev/vda && mkdir -p /mnt/b && mount /dev/vda /mnt/b
dd if=/dev/urandom of=/mnt/b/f bs=1M count=24 2>/dev/null; sync; t ready; nproc
echo 49152 > $T/buffer_size_kb
echo vfs_read > $T/set_graph_function; echo vfs_write >> $T/set_graph_function
echo 3 > /proc/sys/vm/drop_caches
echo 0 > $T/tracing_on; echo function_graph > $T/current_tracer
echo 1 > $T/tracing_on
for i in 1 2 3; do cat /mnt/b/f > /dev/null; dd if=/dev/zero of=/mnt/b/w$i bs=4k count=512 2>/dev/null; echo 3 > /proc/sys/vm/drop_caches; done
echo 0 > $T/tracing_on; t traced
cat $T/per_cpu/cpu0/stats $T/per_cpu/cpu1/stats | grep -E "entries|overrun|bytes"
cat $T/trace > $O/big.txt; t text
timeout -s INT 600 trace-cmd extract -o $O/big.dat > /dev/null 2>&1; t extracted
ls -la $O
