#!/bin/bash
# Scenario baseline: a PV and a PVH guest (so both of Xen's stream kinds, x86 PV and x86 HVM) run
# read-heavy; each is saved to a file (checked by Xen's verify-stream-v2) and restored, then saved
# through a FIFO and restored through one. After each restore the guest re-hashes its anonymous region
# and cached files from memory. Options (LAB_ARGS): mem=<MiB> fs=4k|1k workload=<name> guests="pv pvh".
. "$LAB_LIB"
mem=256 fs=4k workload=read-heavy guests="pv pvh"
for kv in ${LAB_ARGS:-}; do
  case $kv in mem=* | fs=* | workload=*) eval "${kv%%=*}=\${kv#*=}" ;; guests=*) guests=${kv#*=} guests=${guests//,/ } ;; esac
done
lab_result guest_mem_mib "$mem"
lab_result guest_fs "$fs"
lab_result guest_workload "$workload"

cycle() {
  local kind=$1 name=lab-$1 img=$LAB_WORK/lab-$1.ckpt fifo=$LAB_WORK/fifo-$1 line mark reader
  # Boot: create, the guest's first integrity report (memory before any save), warm-up (files cached,
  # three workload iterations). A guest damaged before any save is the emulated host's fault: retried.
  lab_try "$kind.boot" guest_boot "$name" "$kind" "$workload" "$fs" "$mem" || return 1
  line=$(guest_last "$name" '^GUEST iter ')
  lab_result "$kind.page_cache_kib" "$(sed -n 's/.*cached_kb=\([0-9]*\).*/\1/p' <<<"$line")"
  lab_result "$kind.guest_anon_kib" "$(sed -n 's/.*anon_kb=\([0-9]*\).*/\1/p' <<<"$line")"
  lab_result "$kind.guest_memtotal_kib" "$(sed -n 's/.*memtotal_kb=\([0-9]*\).*/\1/p' <<<"$line")"

  lab_try "$kind.save_file" guest_save "$name" "$img" || return 1
  lab_result "$kind.image_bytes" "$(stat -c %s "$img")"
  if lab_step "$kind.verify_stream" verify_stream "$img" "$LAB_RESULTS/verify-$kind.log"; then
    lab_check "$kind.verify_stream" ok "$(stream_records "$LAB_RESULTS/verify-$kind.log")"
  else
    lab_check "$kind.verify_stream" fail "see verify-$kind.log"
    tail -n 5 "$LAB_RESULTS/verify-$kind.log"
  fi
  mark=$(guest_lines "$name")
  lab_try "$kind.restore_file" guest_restore "$name" "$img" || return 1
  lab_step "$kind.integrity_file" guest_integrity "$name" "$mark" 300 || return 1
  rm -f "$img"

  # The same through a FIFO: the saver streams, nothing seeks (how a pipeline would receive it).
  mkfifo "$fifo"
  cat "$fifo" >"$img" &
  reader=$!
  if ! lab_step "$kind.save_fifo" guest_save "$name" "$fifo"; then
    kill "$reader" 2>/dev/null
    return 1
  fi
  wait "$reader"
  lab_result "$kind.fifo_image_bytes" "$(stat -c %s "$img")"
  mark=$(guest_lines "$name")
  cat "$img" >"$fifo" &
  reader=$!
  lab_step "$kind.restore_fifo" guest_restore "$name" "$fifo" || return 1
  wait "$reader"
  lab_step "$kind.integrity_fifo" guest_integrity "$name" "$mark" 300 || return 1
  rm -f "$img" "$fifo"
}

verified=()
for kind in $guests; do
  if cycle "$kind"; then verified+=("$kind"); else LAB_FAILED=1; fi
  guest_cleanup "lab-$kind"
done
# The run's own contract: every requested guest went through both cycles with both checks passing.
if [ "${verified[*]}" = "$(echo $guests)" ] && [ $LAB_FAILED = 0 ]; then
  lab_check baseline.guests_verified ok "${verified[*]}"
else
  lab_check baseline.guests_verified fail "verified: ${verified[*]:-none} of: $guests"
fi
lab_finish
