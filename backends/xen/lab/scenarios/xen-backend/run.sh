#!/bin/bash
# Scenario xen-backend: guests whose data disk is served by leanckpt's own blkif backend (not
# xen-blkback), tracked with log-dirty. Per guest: `leanckpt xen create --daemon`, warm-up, status,
# a recorded trace, `leanckpt xen save` (stop after save), `leanckpt xen restore` + the guest's own
# integrity check, a second save/restore cycle on the restored guest (before its restore, a restore
# from a changed copy of a disk must be refused, naming that disk), 15 s of `trace record --xen` on
# it, and a plain `xl save`/`xl restore` of the same guest for the size and time comparison. Options (LAB_ARGS): mem=<MiB> workload=<name>
# guests="pv pvh" oracle=yes prof=yes (CPU profiles of each save and restore into the results' prof/)
# stream=file|fifo (how `xen save`/`xen restore` pass the xl stream; by default each command's own)
# fs=4k|1k (the data disk's ext4 block size) vcpus=<n> keep=yes (a `xen save --keep-running`: the
# guest must go on working, and the image, restored from its frozen disk copy after the guest is
# destroyed, must pass the guest's check) logdirty_ms=<ms> (the tracking's log-dirty epoch; 0: off)
# fill=direct|stream (how `xen restore` brings back the pages the image left out; default direct)
# cycles=<n> (save/restore cycles per guest, default 2) alt_env=<VAR=value> (set for the even-numbered
# cycles' `xen save` and `xen restore` only: two settings compared in one run, cycles interleaved)
# disks=1|2 (2: a second data disk, xvdb, also on leanckpt's backend; the guest uses half its files from
# there, and the changed-disk refusal changes xvdb) disk_check=identity|content (`xen restore
# --disk-check`: how each disk's whole content is proven; default identity).
. "$LAB_LIB"
mem=256 workload=read-heavy guests="pv" oracle=no prof=no stream=default fs=4k vcpus=1 keep=no logdirty_ms=1000 fill=direct cycles=2 alt_env= disks=1 disk_check=identity
for kv in ${LAB_ARGS:-}; do
  case $kv in mem=* | workload=* | oracle=* | prof=* | stream=* | fs=* | vcpus=* | keep=* | logdirty_ms=* | fill=* | cycles=* | alt_env=* | disks=* | disk_check=*) eval "${kv%%=*}=\${kv#*=}" ;; guests=*) guests=${kv#*=} guests=${guests//,/ } ;; esac
done
case $disks in 1 | 2) ;; *) lab_log "disks=$disks: 1 or 2" && exit 2 ;; esac
export GUEST_VCPUS=$vcpus GUEST_DISKS=$disks
lab_result guest_mem_mib "$mem"
lab_result guest_workload "$workload"
lab_result guest_fs_block "$fs"
lab_result guest_vcpus "$vcpus"
lab_result guest_disks "$disks"
lab_result log_dirty_ms "$logdirty_ms"
lab_result stream_transport "$stream"
lab_result restore_fill "$fill"
lab_result restore_disk_check "$disk_check"
lab_result cycles "$cycles"
[ -n "$alt_env" ] && lab_result alt_env "$alt_env (even-numbered cycles)"
lab_result dom0_cpus "$(nproc)"
export LEANCKPT_RUN_DIR=$LAB_WORK/run
# The bundled CLI `lab run` writes (seconds to start under TCG, against minutes through tsx), installed
# with koffi on dom0's own disk as a real dom0 would have it: run from the 9p share, each module lookup
# (a stat per path component) cost seconds under TCG once the bundle came in chunks (lab run 75).
if [ -f "$LAB_RESULTS/leanckpt.mjs" ]; then
  cli=$LAB_WORK/cli
  rm -rf "$cli" && mkdir -p "$cli/node_modules"
  cp -r "$LAB_RESULTS/leanckpt.mjs" "$LAB_RESULTS/leanckpt-chunks" "$cli/"
  cp -r "$LAB_PROJECT/node_modules/koffi" "$LAB_PROJECT/node_modules/@koromix" "$cli/node_modules/"
  LCK=(node "$cli/leanckpt.mjs")
else
  LCK=(node "$LAB_PROJECT/node_modules/tsx/dist/cli.mjs" "$LAB_PROJECT/bin/leanckpt.ts")
fi
lck() { "${LCK[@]}" "$@"; }
# What starting node costs here before any leanckpt work, which every command and each tracking process
# pays (the ratios leave out the command's own start; not the start of the tracking process a restore
# starts): bare, and the CLI up to printing its version. The first of each reads from a cold cache.
for n in 1 2; do
  lab_timed "node_start_$n" node -e 0
  lab_timed "cli_start_$n" lck --version
done
# json FILE EXPR: a field of a JSON result (node is there; jq is not).
json() { node -e "const r=JSON.parse(require('fs').readFileSync(process.argv[1],'utf8')); console.log($2)" "$1"; }

# Tracking runs in the foreground `xen create` process, started before `xl create`: processes forked
# right after `xl create` are the ones the emulated host damages (see docs/lab.md).
lck_create() {
  local second=()
  if [ "$disks" = 2 ]; then second=(--disk "xvdb=$2.b"); fi
  xl destroy "$1" >/dev/null 2>&1
  "${LCK[@]}" xen create "$LAB_WORK/$1.cfg" --disk "xvda=$2" "${second[@]}" --record "$LAB_RESULTS/$1-life.lctrace" \
    --log-dirty-ms "$logdirty_ms" \
    >"$3" 2>"$LAB_RESULTS/$1-tracking.log" &
  local i
  for i in $(seq 1 600); do
    if [ -S "$LEANCKPT_RUN_DIR/dom$(xl domid "$1" 2>/dev/null).sock" ]; then return 0; fi
    sleep 2
  done
  return 1
}
# lck_json FILE ARGS...: a leanckpt command's --json result into FILE (at most 20 minutes).
lck_json() {
  local out=$1
  shift
  timeout 1200 "${LCK[@]}" "$@" --json >"$out"
}
# lck_prof ARGS...: a leanckpt command, CPU-profiled when prof=yes (node refuses --cpu-prof in
# NODE_OPTIONS, so it goes on the command line; the tracking process a restore starts is not profiled),
# with the cycle's setting (alt_env) in its environment, if any.
cycle_env=()
lck_prof() {
  if [ "$prof" = yes ]; then
    mkdir -p "$LAB_RESULTS/prof"
    env "${cycle_env[@]}" "${LCK[0]}" --cpu-prof --cpu-prof-dir="$LAB_RESULTS/prof" "${LCK[@]:1}" "$@"
  else
    env "${cycle_env[@]}" "${LCK[@]}" "$@"
  fi
}
# lck_save NAME IMAGE JSON [OPTIONS...]
via=()
if [ "$stream" != default ]; then via=(--stream "$stream"); fi
# Each sets LCK_DT to the command's own wall time, node's start and exit included.
lck_save() { lck_timed xen save "$1" "$2" "${via[@]}" --json "${@:4}" >"$3"; }
lck_restore() {
  xl destroy "$1" >/dev/null 2>&1
  lck_timed xen restore "$2" "${via[@]}" --fill "$fill" --disk-check "$disk_check" --log-dirty-ms "$logdirty_ms" --json >"$3"
}
lck_timed() {
  local t0=${EPOCHREALTIME/./} rc
  lck_prof "$@"
  rc=$?
  lab_elapsed "$t0"
  LCK_DT=$LAB_DT
  return $rc
}
dump_logs() {
  cat "$LEANCKPT_RUN_DIR"/*.log "$LAB_RESULTS"/*-tracking.log 2>/dev/null | tail -n 20 | sed 's/^/LOG daemon: /'
  cp "$LEANCKPT_RUN_DIR"/*.log "$LAB_RESULTS/" 2>/dev/null
}

# changed_disk_refused KIND NAME IMAGE: the restore of IMAGE from a changed copy of one disk (one byte
# flipped in every MiB, so referenced sectors surely change) must be refused, naming that disk. Run
# right after the save, while the domain is gone and every other disk is as the image left it. With
# two disks the second is changed.
changed_disk_refused() {
  local kind=$1 name=$2 img=$3 disk=$LAB_WORK/$1.img vdev=xvda id=51712
  if [ "$disks" = 2 ]; then disk=$LAB_WORK/$1.img.b vdev=xvdb id=51728; fi
  cp "$disk" "$disk.changed"
  node -e "const fs=require('fs');const fd=fs.openSync(process.argv[1],'r+');const b=Buffer.alloc(1);
    for(let o=4096+123;o<fs.fstatSync(fd).size;o+=1<<20){fs.readSync(fd,b,0,1,o);b[0]^=0xff;fs.writeSync(fd,b,0,1,o)}" "$disk.changed"
  if lck xen restore "$img" --disk "$vdev=$disk.changed" >"$LAB_RESULTS/$kind-refused.txt" 2>&1; then
    lab_check "$kind.changed_disk_refused" fail "the restore went through"
    xl destroy "$name"
  elif grep -q "disk $id\b" "$LAB_RESULTS/$kind-refused.txt"; then
    lab_check "$kind.changed_disk_refused" ok "$(tail -n 1 "$LAB_RESULTS/$kind-refused.txt" | cut -c1-160)"
  else
    lab_check "$kind.changed_disk_refused" fail "refused without naming disk $id ($vdev): $(tail -n 1 "$LAB_RESULTS/$kind-refused.txt" | cut -c1-120)"
  fi
  rm -f "$disk.changed"
}

# save_restore KIND NAME N: one leanckpt save/restore cycle and the guest's integrity report.
save_restore() {
  local kind=$1 name=$2 n=$3 img=$LAB_WORK/$2-$3.lckx out=$LAB_RESULTS/$1-$3 mark
  lab_step "$kind.save$n" lck_save "$name" "$img" "$out-save.json" || { dump_logs; return 1; }
  command_seconds[save_$n]=$LCK_DT
  lab_result "$kind.save$n.image_bytes" "$(json "$out-save.json" r.imageBytes)"
  lab_result "$kind.save$n.stream_bytes" "$(json "$out-save.json" r.streamBytes)"
  lab_result "$kind.save$n.reduction" "$(json "$out-save.json" 'r.reduction.toFixed(4)')"
  lab_result "$kind.save$n.pages" "$(json "$out-save.json" 'JSON.stringify(r.pages)')"
  lab_result "$kind.save$n.map_size" "$(json "$out-save.json" r.mapSize)"
  lab_result "$kind.save$n.seconds" "$(json "$out-save.json" '(r.ms.total/1000).toFixed(2)')"
  lab_result "$kind.save$n.image_done_seconds" "$(json "$out-save.json" '(r.ms.save/1000).toFixed(2)')"
  lab_result "$kind.save$n.content_hash" "$(json "$out-save.json" 'r.disks.map((d) => d.contentHash).join(",")')"
  lab_result "$kind.save$n.quiesce_tracking" "$(json "$out-save.json" 'JSON.stringify(r.quiesceTiming ?? null)')"
  lab_result "$kind.save$n.tracked_content" "$(json "$out-save.json" 'JSON.stringify(r.trackedContent ?? null)')"
  lab_result "$kind.save$n.cpu_seconds" "$(json "$out-save.json" '((r.cpuMs.user+r.cpuMs.system)/1000).toFixed(2)')"
  lab_result "$kind.save$n.stream_waits" "$(json "$out-save.json" 'r.streamWaits ?? "-"')"
  if [ "$n" = 1 ] && [ "${oracle:-no}" = yes ]; then
    # Before the restore changes the disk: the rebuilt stream must pass Xen's checker, and the oracle
    # (every stream page equal to some disk range) gives the capture ratio.
    # lab_step's own STEP line goes to stdout: each JSON result is redirected inside the step (lck_json).
    if lab_step "$kind.rebuild" lck_json "$out-rebuild.json" xen rebuild "$img" "$LAB_WORK/rebuilt.xl" &&
      lab_step "$kind.verify_rebuilt" verify_stream "$LAB_WORK/rebuilt.xl" "$LAB_RESULTS/verify-rebuilt-$kind.log"; then
      lab_check "$kind.verify_rebuilt" ok "$(stream_records "$LAB_RESULTS/verify-rebuilt-$kind.log")"
    else
      lab_check "$kind.verify_rebuilt" fail "see verify-rebuilt-$kind.log"
    fi
    rm -f "$LAB_WORK/rebuilt.xl"
    if lab_step "$kind.oracle" lck_json "$out-oracle.json" xen oracle "$img"; then
      lab_result "$kind.oracle_matched" "$(json "$out-oracle.json" r.matchedOrdinary)"
      lab_result "$kind.capture" "$(json "$out-oracle.json" 'r.capture.toFixed(4)')"
    fi
  fi
  if [ "$n" = "$cycles" ]; then changed_disk_refused "$kind" "$name" "$img"; fi
  mark=$(guest_lines "$name")
  lab_step "$kind.restore$n" lck_restore "$name" "$img" "$out-restore.json" || { dump_logs; return 1; }
  command_seconds[restore_$n]=$LCK_DT
  lab_result "$kind.restore$n.seconds" "$(json "$out-restore.json" '(r.ms.total/1000).toFixed(2)')"
  lab_result "$kind.restore$n.cpu_seconds" "$(json "$out-restore.json" '((r.cpuMs.user+r.cpuMs.system)/1000).toFixed(2)')"
  lab_result "$kind.restore$n.pages_from_disk" "$(json "$out-restore.json" r.pagesMapped)"
  lab_step "$kind.integrity$n" guest_integrity "$name" "$mark" 300 || return 1
  # Restored images go: with many cycles they filled dom0's memory with page cache until a plain
  # `xl save` took a minute (run 51).
  rm -f "$img"
  guest_wait "$name" '^GUEST iter ' 300 "$(guest_lines "$name")" >/dev/null
}

# keep_running KIND NAME: `xen save --keep-running`, the guest goes on working; then the guest is
# destroyed and the image restored from the disk copy the save froze beside it.
keep_running() {
  local kind=$1 name=$2 img=$LAB_WORK/$2-keep.lckx out=$LAB_RESULTS/$1-keep mark rc state
  # First into a 16 MiB tmpfs, too small for the copies and unable to share extents: refused at once
  # (exit 5, naming the room), and the guest never suspended.
  mkdir -p "$LAB_WORK/small" && mount -t tmpfs -o size=16m lcksmall "$LAB_WORK/small"
  lck xen save "$name" "$LAB_WORK/small/x.lckx" --keep-running >"$LAB_RESULTS/$kind-noroom.txt" 2>&1
  rc=$?
  umount "$LAB_WORK/small"
  state=$(xl list "$name" 2>/dev/null | awk 'NR == 2 { print $5 }')
  if [ "$rc" = 5 ] && grep -q 'not enough room' "$LAB_RESULTS/$kind-noroom.txt" && [[ $state != *p* && $state != *s* ]]; then
    lab_check "$kind.keep_no_room" ok "$(tail -n 1 "$LAB_RESULTS/$kind-noroom.txt" | cut -c1-160)"
  else
    lab_check "$kind.keep_no_room" fail "exit $rc, domain state ${state:-gone}: $(tail -n 1 "$LAB_RESULTS/$kind-noroom.txt" | cut -c1-120)"
  fi
  mark=$(guest_lines "$name")
  lab_step "$kind.save_keep" lck_save "$name" "$img" "$out-save.json" --keep-running || { dump_logs; return 1; }
  lab_result "$kind.save_keep.reduction" "$(json "$out-save.json" 'r.reduction.toFixed(4)')"
  lab_result "$kind.save_keep.seconds" "$(json "$out-save.json" '(r.ms.total/1000).toFixed(2)')"
  lab_result "$kind.save_keep.copy_seconds" "$(json "$out-save.json" '((r.ms.copy ?? r.ms.freeze)/1000).toFixed(2)')"
  lab_result "$kind.save_keep.disk" "$(json "$out-save.json" 'r.disks[0].path')"
  # Two more workload iterations: the guest runs on, on the live disk, its frontend still connected.
  guest_wait "$name" '^GUEST iter ' 300 "$mark" >/dev/null &&
    guest_wait "$name" '^GUEST iter ' 300 "$(guest_lines "$name")" >/dev/null || {
    lab_check "$kind.keep_running" fail "the guest stopped working after the save"
    dump_logs
    return 1
  }
  lab_check "$kind.keep_running" ok "the guest went on working"
  # xl's save turned log-dirty off; the resume must have turned it on again.
  if [ "$logdirty_ms" != 0 ]; then
    local state
    state=$(lck xen status "$name" --json >"$out-status.json" && json "$out-status.json" 'r.status.logDirty.state')
    if [ "$state" = active ]; then
      lab_check "$kind.keep_log_dirty" ok "log-dirty active again after the save"
    else
      lab_check "$kind.keep_log_dirty" fail "log-dirty ${state:-unknown} after the save"
    fi
  fi
  mark=$(guest_lines "$name")
  lab_step "$kind.restore_keep" lck_restore "$name" "$img" "$out-restore.json" || { dump_logs; return 1; }
  lab_result "$kind.restore_keep.seconds" "$(json "$out-restore.json" '(r.ms.total/1000).toFixed(2)')"
  lab_step "$kind.integrity_keep" guest_integrity "$name" "$mark" 300 || return 1
  guest_wait "$name" '^GUEST iter ' 300 "$(guest_lines "$name")" >/dev/null
}

# vs_xl KIND save|restore SECONDS [SUFFIX]: each leanckpt save (or restore) of this guest over the plain
# xl one of the same run: the ratio the targets are about (save <= 1.1x, restore <= 1.5x); SUFFIX names
# another baseline's ratio (vs_xl_durable).
vs_xl() {
  local f n
  for f in "$LAB_RESULTS/$1"-*-"$2".json; do
    [ -f "$f" ] || continue
    n=${f#"$LAB_RESULTS/$1-"}
    n=${n%"-$2.json"}
    lab_result "$1.$2_$n.vs_xl${4:-}" "$(json "$f" "(r.ms.total / 1000 / $3).toFixed(2) + 'x'")"
  done
}

# vs_xl_command KIND save|restore SECONDS: the same ratios for the whole command as its caller waits for
# it, node's start and exit included (the vs_xl ratios time the command from inside: ms.total).
declare -A command_seconds
vs_xl_command() {
  local key
  for key in $(printf '%s\n' "${!command_seconds[@]}" | sort); do
    [[ $key == "$2"_* ]] || continue
    lab_result "$1.${key}.vs_xl_command" "$(awk -v a="${command_seconds[$key]}" -v b="$3" 'BEGIN { printf "%.2fx", a / b }')"
  done
}

cycle() {
  command_seconds=()
  local kind=$1 name=lck-$1 disk=$LAB_WORK/$1.img t0 line
  cp "$LAB_GUEST/disk-$fs.img" "$disk"
  if [ "$disks" = 2 ]; then cp "$LAB_GUEST/disk-$fs.img" "$disk.b"; fi
  guest_xl_config "$name" "$kind" "$workload" "$mem"
  lab_step "$kind.create" lck_create "$name" "$disk" "$LAB_RESULTS/$kind-create.json" || { dump_logs; return 1; }
  # guest_warm keeps the console line off stdout; redirecting lab_step itself would hide its STEP line.
  lab_step "$kind.warmup" guest_warm "$name" || { dump_logs; return 1; }
  line=$(guest_last "$name" '^GUEST iter ')
  lab_result "$kind.page_cache_kib" "$(sed -n 's/.*cached_kb=\([0-9]*\).*/\1/p' <<<"$line")"
  # Node starts slowly under TCG (minutes): status is read while the guest keeps working.
  if lck xen status "$name" --json >"$LAB_RESULTS/$kind-status.json"; then
    lab_result "$kind.log_dirty" "$(json "$LAB_RESULTS/$kind-status.json" 'r.status.logDirty.state')"
    lab_result "$kind.mapped_pages" "$(json "$LAB_RESULTS/$kind-status.json" 'r.status.mappedPages')"
    lab_result "$kind.disk_reads" "$(json "$LAB_RESULTS/$kind-status.json" 'r.status.disks[0].io.reads')"
  else
    lab_result "$kind.status_exit" "$?"
  fi

  local n
  for n in $(seq 1 "$cycles"); do
    cycle_env=()
    if [ -n "$alt_env" ] && [ $((n % 2)) = 0 ]; then cycle_env=("$alt_env"); fi
    save_restore "$kind" "$name" "$n" || return 1
  done
  cycle_env=()

  # `trace record --xen` against the restored guest's tracking process (which records nothing else).
  if lab_step "$kind.trace_record" lck_json "$LAB_RESULTS/$kind-record.json" trace record --xen "$name" \
    -o "$LAB_RESULTS/$name-restored.lctrace" --seconds 15; then
    lab_result "$kind.trace_record.events" "$(json "$LAB_RESULTS/$kind-record.json" r.events)"
  fi
  if [ "$keep" = yes ]; then
    keep_running "$kind" "$name" || return 1
    # The step leaves two more disk files and an image in dom0's page cache; the plain `xl save` after it
    # then took twice its CPU, reclaiming memory as it wrote (6.4-7.3 s against 2.7-3.8 s, runs 73, 77,
    # 80), and the save ratios meant nothing. Images no longer needed go, and clean pages are dropped.
    rm -f "$LAB_WORK/lck-$kind"-*.lckx
    sync
    echo 1 >/proc/sys/vm/drop_caches
  fi

  # Plain xl of the same guest, back to back, for the size and time ratios. `xl save` without -p, as
  # `xen save` without --keep-running: both end with the domain destroyed (until run 55 the baseline
  # was `xl save -p`, which leaves the destroy out of xl's time but not out of leanckpt's).
  lab_step "$kind.xl_save" lab_timed "$kind.xl_save" xl save "$name" "$LAB_WORK/plain.xl" || return 1
  local xl_save=$LAB_TIMED_WALL
  lab_result "$kind.xl_save.bytes" "$(stat -c %s "$LAB_WORK/plain.xl")"
  # `xen save` makes its image durable inside its time (fsync, rename, the directory's fsync); `xl save`
  # leaves its file in dom0's page cache. Syncing the file and its directory after it gives the baseline
  # of the same durability, for a second ratio beside the first (which stays the target's).
  lab_step "$kind.xl_save_sync" lab_timed "$kind.xl_save_sync" sync "$LAB_WORK/plain.xl" "$LAB_WORK" || return 1
  local xl_durable
  xl_durable=$(awk -v a="$xl_save" -v b="$LAB_TIMED_WALL" 'BEGIN { printf "%.3f", a + b }')
  xl destroy "$name" >/dev/null 2>&1 || true
  lab_step "$kind.xl_restore" lab_timed "$kind.xl_restore" xl restore -p -e "$LAB_WORK/plain.xl" || return 1
  xl destroy "$name"
  vs_xl "$kind" save "$xl_save"
  vs_xl "$kind" save "$xl_durable" _durable
  vs_xl "$kind" restore "$LAB_TIMED_WALL"
  vs_xl_command "$kind" save "$xl_save"
  vs_xl_command "$kind" restore "$LAB_TIMED_WALL"
  rm -f "$LAB_WORK/plain.xl"

}

verified=()
for kind in $guests; do
  if cycle "$kind"; then verified+=("$kind"); else LAB_FAILED=1; fi
  xl destroy "lck-$kind" >/dev/null 2>&1
  # The next guest needs the room: two disks, --keep-running's copies of them and its image filled
  # dom0's 3 GB root before the second guest's copy (run 65).
  rm -f "$LAB_WORK/$kind.img" "$LAB_WORK/$kind.img.b" "$LAB_WORK/lck-$kind"-*.lckx*
done
dump_logs
if [ "${verified[*]}" = "$(echo $guests)" ] && [ $LAB_FAILED = 0 ]; then
  lab_check xen_backend.guests_verified ok "${verified[*]}"
else
  lab_check xen_backend.guests_verified fail "verified: ${verified[*]:-none} of: $guests"
fi
lab_finish
