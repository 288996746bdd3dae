#!/bin/bash
# Runs in dom0 (started by the image's lab-boot): prepares Xen's services for a scenario, then runs
# scenarios/<name>/run.sh (bash) or run.ts (the host's node + the project's tsx). Its output is the
# run's protocol stream, parsed on the host (see docs/lab.md).
set -u
export LAB_RESULTS=/lab/results LAB_PROJECT=/lab/project LAB_GUEST=/lab/guest LAB_WORK=/var/lib/lab
LAB_ARGS=$(cat "$LAB_RESULTS/args" 2>/dev/null)
export LAB_ARGS LAB_LIB=$LAB_PROJECT/backends/xen/lab/scenarios/lib.sh
export PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
scenario=$(cat "$LAB_RESULTS/scenario")
dir=$LAB_PROJECT/backends/xen/lab/scenarios/$scenario
mkdir -p "$LAB_WORK" "$LAB_RESULTS/console"
modprobe -a xen-blkback loop
# Guest consoles go to the results dir, so the host can show them when something fails.
kill "$(cat /run/xenconsoled.pid 2>/dev/null)" 2>/dev/null
sleep 1
/usr/lib/xen-4.17/bin/xenconsoled --log=guest --log-dir="$LAB_RESULTS/console" --pid-file=/run/xenconsoled.pid
info=$(xl info)
field() { awk -F': ' -v k="$1" '$1 ~ "^"k" *$" { print $2 }' <<<"$info"; }
echo "RESULT xen_version $(field xen_version)"
echo "RESULT xen_virt_caps $(field virt_caps | tr ' ' ',')"
echo "RESULT dom0_node $(node --version 2>&1)"
if [ -f "$dir/run.sh" ]; then
  exec bash "$dir/run.sh"
elif [ -f "$dir/run.ts" ]; then
  exec node "$LAB_PROJECT/node_modules/tsx/dist/cli.mjs" "$dir/run.ts"
fi
echo "LAB-ERROR no run.sh or run.ts in scenarios/$scenario"
exit 2
