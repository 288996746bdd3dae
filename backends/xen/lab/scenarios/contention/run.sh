#!/bin/bash
# Scenario contention: how much does work beside `xl save` and `xl restore` slow xl itself on this host?
# leanckpt filters the stream while xl writes it, and hashes disks while xl restores, on dom0's other
# CPU: on a real multi-core host that should cost xl little. This runs plain `xl save -p` + `xl restore -p`
# of one plain PV guest (its disk on blkback, no leanckpt) in rounds, each under three loads on dom0:
#   none  nothing else runs;
#   spin  one process in a busy loop (pure CPU, no memory traffic, no system calls);
#   copy  one process reading a 256 MiB file from the page cache over and over (memory and system
#         calls, like leanckpt's reads and hashes).
# Per command it reports wall seconds and xl's own CPU seconds (user + system). Needs two dom0 CPUs
# (LEANCKPT_LAB_CPUS=2). Each round also times one read of the 256 MiB file alone (`read.<round>`).
# Options (LAB_ARGS): rounds=<n> (default 3) mem=<MiB> workload=<name>.
. "$LAB_LIB"
rounds=3 mem=256 workload=read-heavy
for kv in ${LAB_ARGS:-}; do
  case $kv in rounds=* | mem=* | workload=*) eval "${kv%%=*}=\${kv#*=}" ;; esac
done
name=lab-contention img=$LAB_WORK/contention.xl busy=$LAB_WORK/busy.bin
lab_result dom0_cpus "$(nproc)"
lab_result rounds "$rounds"

# load_start LOAD: starts the load in the background (its pid in LOAD_PID); none starts nothing.
LOAD_PID=
load_start() {
  case $1 in
  none) LOAD_PID= ;;
  spin)
    bash -c 'while :; do :; done' &
    LOAD_PID=$!
    ;;
  copy)
    bash -c "while :; do cat '$busy' >/dev/null; done" &
    LOAD_PID=$!
    ;;
  esac
}
load_stop() {
  if [ -n "$LOAD_PID" ]; then
    kill "$LOAD_PID" 2>/dev/null
    wait "$LOAD_PID" 2>/dev/null
  fi
  LOAD_PID=
}

# cycle LOAD ROUND: xl save -p, destroy, xl restore -p, unpause, the guest's own check, all under LOAD.
cycle() {
  local load=$1 r=$2 mark key=$1.$2
  # The load is under way before xl starts.
  load_start "$load"
  sleep 3
  lab_timed "$key.xl_save" xl save -p "$name" "$img" || {
    load_stop
    lab_check "$key.xl_save" fail "xl save failed (see xl.log)"
    return 1
  }
  xl destroy "$name"
  lab_timed "$key.xl_restore" xl restore -p -e "$img" || {
    load_stop
    lab_check "$key.xl_restore" fail "xl restore failed (see xl.log)"
    return 1
  }
  load_stop
  lab_result "$key.stream_bytes" "$(stat -c %s "$img")"
  rm -f "$img"
  mark=$(guest_lines "$name")
  xl unpause "$name"
  lab_step "$key.integrity" guest_integrity "$name" "$mark" 300
}

# The copy load's file, read once so that the load reads memory, not the disk.
head -c $((256 << 20)) /dev/urandom >"$busy"
cat "$busy" >/dev/null
lab_try boot guest_boot "$name" pv "$workload" 4k "$mem" || lab_finish
loads=(none spin copy)
for r in $(seq 1 "$rounds"); do
  # The least a save adds if it reads xl's stream only after xl: one pass over that much page cache.
  lab_timed "read.$r" cat "$busy"
  # Each round starts one load later, so no load always runs first (the host slows down and speeds
  # up over a run).
  for i in 0 1 2; do
    cycle "${loads[$(((r - 1 + i) % 3))]}" "$r" || break 2
  done
done
guest_cleanup "$name"
rm -f "$busy"
lab_finish
