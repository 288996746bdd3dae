#!/bin/bash
# Shared helpers for scenario scripts run in dom0. Source it: `. "$LAB_LIB"`.
# Protocol (one line each, parsed on the host; anything else on stdout is kept as log):
#   STEP <name> <seconds> ok|fail|retry    RESULT <key> <value>    CHECK <name> ok|fail [detail]
#   INTEGRITY <guest> OK|CORRUPT <detail>
# Xen under TCG has rare spurious xl crashes: xl create/restore run with -e (no monitoring child, none
# seen in 14 cycles) and lab_try retries a step once, reporting the failed try as `retry`.

LAB_FAILED=0
# A shell trace of the scenario goes to trace.log in the results dir (for diagnosis, not parsed).
exec 9>>"$LAB_RESULTS/trace.log"
BASH_XTRACEFD=9
set -x

# Timing uses bash's own clock and no child process: emulated dom0s have rare user-space crashes in
# freshly forked processes (seen right after `xl create`), and a crashed `$(...)` must not become a
# wrong time. lab_elapsed T0 sets LAB_DT to the seconds since T0 (microseconds from lab_now).
lab_now() { echo "${EPOCHREALTIME/./}"; }
lab_elapsed() {
  local d=$((${EPOCHREALTIME/./} - $1))
  printf -v LAB_DT '%d.%02d' $((d / 1000000)) $((d % 1000000 / 10000))
}
# lab_since T0: prints the seconds since T0 (for `$(lab_since "$t0")` in scenarios).
lab_since() {
  lab_elapsed "$1"
  echo "$LAB_DT"
}
lab_result() { echo "RESULT $1 ${*:2}"; }
lab_check() {
  echo "CHECK $1 $2${3:+ $3}"
  [ "$2" = ok ] || LAB_FAILED=1
}

# lab_timed KEY CMD...: runs CMD (its output to xl.log in the results), reporting KEY.seconds (wall)
# and KEY.cpu_seconds (CMD's own user + system time and its children's, from bash's `time`: no one
# else's). On an emulated host the two differ by the time CMD waited for a CPU others held.
lab_timed() {
  local key=$1 out rc wall user sys
  shift
  out=$({ TIMEFORMAT='%R %U %S'; time "$@" >>"$LAB_RESULTS/xl.log" 2>&1; } 2>&1)
  rc=$?
  read -r wall user sys <<<"$out"
  LAB_TIMED_WALL=$wall
  lab_result "$key.seconds" "$wall"
  lab_result "$key.cpu_seconds" "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')"
  return $rc
}

# lab_step NAME CMD...: runs CMD once and reports it.
lab_step() {
  local name=$1 t0=${EPOCHREALTIME/./} rc
  shift
  "$@"
  rc=$?
  lab_elapsed "$t0"
  if [ $rc -eq 0 ]; then echo "STEP $name $LAB_DT ok"; else
    echo "STEP $name $LAB_DT fail"
    LAB_FAILED=1
  fi
  return $rc
}

# lab_try NAME CMD...: like lab_step, but a failure is retried once (and reported as a retry). CMD must
# be safe to run again after a failure.
lab_try() {
  local name=$1 t0=${EPOCHREALTIME/./}
  shift
  if "$@"; then
    lab_elapsed "$t0"
    echo "STEP $name $LAB_DT ok"
    return 0
  fi
  lab_elapsed "$t0"
  echo "STEP $name $LAB_DT retry"
  sleep 2
  lab_step "$name" "$@"
}

lab_log() { echo "LOG $*"; }

# guest_console NAME: the guest's console log, written by xenconsoled.
guest_console() { echo "$LAB_RESULTS/console/guest-$1.log"; }
guest_lines() { if [ -f "$(guest_console "$1")" ]; then wc -l <"$(guest_console "$1")"; else echo 0; fi; }

# guest_wait NAME REGEX TIMEOUT [AFTER_LINE]: waits until the console shows REGEX after line
# AFTER_LINE; prints the matching line. Fails on timeout or when the guest reports an error. NUL bytes
# in console logs are dropped first (they would cut lines); one child process per poll.
guest_wait() {
  local name=$1 re=$2 timeout=$3 after=${4:-0} end line file lines
  file=$(guest_console "$name")
  end=$((SECONDS + timeout))
  while [ $SECONDS -lt "$end" ]; do
    if [ -f "$file" ]; then
      mapfile -t -s "$after" lines < <(tr -d '\r\000' <"$file")
      for line in "${lines[@]}"; do
        if [[ $line =~ $re ]]; then
          echo "$line"
          return 0
        fi
        if [[ $line =~ ^GUEST\ error|Kernel\ panic ]]; then
          lab_log "guest $name: $line"
          return 1
        fi
      done
    fi
    sleep 2
  done
  lab_log "timeout after ${timeout}s waiting for '$re' on guest $name"
  return 1
}

# guest_boot NAME TYPE WORKLOAD FS MEM_MIB: config (a fresh disk slot), xl create, warm-up, and the
# guest's first integrity report, which must be OK: it checks memory before any save, so a failure here
# is the emulated host's, not save/restore's. Retry-safe (lab_try): a retry gets a new domain and disk.
guest_boot() {
  local name=$1 t0=${EPOCHREALTIME/./} line mark
  guest_config "$@" || return 1
  # A retried boot appends to the same console log: look only at what this boot prints.
  mark=$(guest_lines "$name")
  guest_create "$name" || return 1
  lab_elapsed "$t0"
  lab_result "$name.create_seconds" "$LAB_DT"
  line=$(guest_wait "$name" '^INTEGRITY ' 600 "$mark") || return 1
  case $line in
  "INTEGRITY OK"*) ;;
  *)
    lab_log "guest $name damaged before any save (emulated host): $line"
    xl destroy "$name" >/dev/null 2>&1
    return 1
    ;;
  esac
  guest_warm "$name" "$mark"
}

# guest_warm NAME [AFTER_LINE]: waits (up to 10 min) until the guest has cached its files and run 3
# workload iterations.
guest_warm() { guest_wait "$1" '^GUEST iter 3 ' 600 "${2:-0}" >/dev/null; }

# guest_last NAME REGEX: the last console line matching REGEX.
guest_last() { tr -d '\r\000' <"$(guest_console "$1")" | grep -a -E "$2" | tail -n 1; }

# guest_config NAME TYPE WORKLOAD FS MEM_MIB: writes the xl config (pv or pvh; fs 4k or 1k). The data
# disk is the next free slot of that kind: a private copy-on-write view of the built image (QEMU's
# -snapshot), so nothing is copied and every guest starts from the same files.
guest_config() {
  local name=$1 type=$2 workload=$3 fs=$4 mem=$5 disk n
  for n in 1 2 3 4; do
    disk=/dev/disk/by-id/virtio-lab-$fs-$n
    if [ -b "$disk" ] && ! grep -qs -x "$disk" "$LAB_WORK/disks-used"; then break; fi
    disk=
  done
  if [ -z "$disk" ]; then
    lab_log "no free $fs data disk left (each run has 4 of each kind)"
    return 1
  fi
  echo "$disk" >>"$LAB_WORK/disks-used"
  guest_xl_config "$name" "$type" "$workload" "$mem" "$disk"
}

# guest_xl_config NAME TYPE WORKLOAD MEM_MIB [DISK]: the xl config itself, with GUEST_VCPUS vCPUs
# (default 1) and GUEST_DISKS data disks (default 1; 2: the guest also mounts xvdb). Without DISK (a
# phy target) the config names no disk: guests whose disk leanckpt serves get it from
# `leanckpt xen create --disk`.
guest_xl_config() {
  local name=$1 type=$2 workload=$3 mem=$4 disk=${5:-}
  {
    echo "name = \"$name\""
    echo "type = \"$type\""
    echo "kernel = \"$LAB_GUEST/vmlinuz\""
    echo "ramdisk = \"$LAB_GUEST/initrd.gz\""
    echo "extra = \"console=hvc0 loglevel=4 lab.workload=$workload lab.disks=${GUEST_DISKS:-1}\""
    echo "memory = $mem"
    echo "vcpus = ${GUEST_VCPUS:-1}"
    if [ -n "$disk" ]; then echo "disk = [ 'format=raw,vdev=xvda,access=rw,backendtype=phy,target=$disk' ]"; fi
    echo 'on_crash = "preserve"'
    # TCG's emulated SVM has no NRIP save: RDTSCP in an HVM-kind guest stalls it unless hidden.
    if [ "$type" = pvh ]; then echo 'cpuid = "host,rdtscp=0"'; fi
  } >"$LAB_WORK/$name.cfg"
}

# guest_create NAME: xl create -e, destroying any half-created leftover first (so it can be retried).
guest_create() {
  xl destroy "$1" >/dev/null 2>&1
  xl create -e "$LAB_WORK/$1.cfg"
}

# guest_save NAME TARGET: xl save; retry-safe only while the domain still exists.
guest_save() {
  xl domid "$1" >/dev/null 2>&1 || {
    lab_log "guest $1 is gone, cannot save it"
    return 1
  }
  xl save "$1" "$2"
}

# guest_restore NAME FILE: xl restore -e, destroying a half-restored leftover first.
guest_restore() {
  xl destroy "$1" >/dev/null 2>&1
  xl restore -e "$2"
}

# guest_cleanup NAME: destroys the domain (its disk slot stays used: it holds the guest's writes).
guest_cleanup() { xl destroy "$1" >/dev/null 2>&1; }

# guest_integrity NAME AFTER_LINE TIMEOUT: waits for the guest's own check after a resume and
# reports it as an INTEGRITY line.
guest_integrity() {
  local name=$1 line
  if line=$(guest_wait "$name" '^INTEGRITY ' "$3" "$2"); then
    echo "INTEGRITY $name ${line#INTEGRITY }"
    case $line in "INTEGRITY OK"*) return 0 ;; esac
  else
    echo "INTEGRITY $name CORRUPT no integrity report from the guest"
  fi
  LAB_FAILED=1
  return 1
}

# verify_stream FILE LOG: Xen's own stream checker on an `xl save` file.
verify_stream() {
  PYTHONPATH=/usr/lib/xen-4.17/lib/python python3 /usr/lib/xen-4.17/bin/verify-stream-v2 -f xl -v -i "$1" >"$2" 2>&1
}

# stream_records LOG: "N libxc records, P of them page data" from a verify_stream log (the checker
# lists each record but squashes runs of page data into one line).
stream_records() {
  local listed pages
  listed=$(grep -c '^Libxc Record' "$1")
  pages=$(sed -n 's/^Squashed \([0-9]*\) Page Data records.*/\1/p' "$1")
  echo "$((listed + ${pages:-0})) libxc records, ${pages:-0} of them page data"
}

# lab_finish: exit status of the scenario (nonzero when any step, check or integrity report failed).
lab_finish() { exit "$LAB_FAILED"; }
