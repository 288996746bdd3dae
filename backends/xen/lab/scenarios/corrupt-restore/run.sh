#!/bin/bash
# Scenario corrupt-restore: the negative control for the guest's integrity check. A PV guest is saved,
# one byte is changed in every page of the image that holds lckguest's page pattern (its anonymous
# region and cached file pages), and the image is restored: the guest itself must report INTEGRITY
# CORRUPT. Xen's stream checker still accepts the image (it checks structure, not content), which is
# why the guest checks content. Options (LAB_ARGS): kind=pv|pvh fs=4k|1k.
. "$LAB_LIB"
kind=pv fs=4k
for kv in ${LAB_ARGS:-}; do
  case $kv in kind=* | fs=*) eval "${kv%%=*}=\${kv#*=}" ;; esac
done
name=lab-$kind img=$LAB_WORK/lab-$kind.ckpt

# Flips byte 64 of every page in the image that starts with the pattern's magic (python3 is in dom0).
corrupt() {
  python3 - "$1" <<'PY'
import sys
with open(sys.argv[1], 'r+b') as f:
    data = f.read()
    at, n = data.find(b'LCHPAGE1'), 0
    while at >= 0:
        f.seek(at + 64)
        f.write(bytes([data[at + 64] ^ 0xFF]))
        n += 1
        at = data.find(b'LCHPAGE1', at + 4096)
print(f'RESULT {sys.argv[1].rsplit("/", 1)[-1]}.pages_corrupted {n}')
sys.exit(0 if n > 0 else 1)
PY
}

run() {
  lab_try "$kind.boot" guest_boot "$name" "$kind" read-heavy "$fs" 256 || return 1
  lab_try "$kind.save_file" guest_save "$name" "$img" || return 1
  lab_step "$kind.corrupt_image" corrupt "$img" || return 1
  if lab_step "$kind.verify_stream" verify_stream "$img" "$LAB_RESULTS/verify-$kind.log"; then
    lab_check "$kind.verify_stream_accepts_content_change" ok
  else
    lab_check "$kind.verify_stream_accepts_content_change" fail "see verify-$kind.log"
  fi
  local mark line
  mark=$(guest_lines "$name")
  lab_try "$kind.restore_file" guest_restore "$name" "$img" || return 1
  if line=$(guest_wait "$name" '^INTEGRITY ' 300 "$mark"); then
    case $line in
    "INTEGRITY CORRUPT"*) lab_check "$kind.guest_caught_corruption" ok "${line#INTEGRITY CORRUPT }" ;;
    *) lab_check "$kind.guest_caught_corruption" fail "the guest reported: $line" ;;
    esac
  else
    lab_check "$kind.guest_caught_corruption" fail "no integrity report after the restore"
  fi
}

run || LAB_FAILED=1
guest_cleanup "$name"
lab_finish
