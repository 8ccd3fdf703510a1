#!/usr/bin/env bash
# tools/fresh_machine_check.sh — proves the README's two commands on a really
# fresh Debian 12: debootstraps a minimal bookworm root in a temporary folder,
# copies the committed tree in (git archive of HEAD: no build dirs, nothing
# uncommitted), and runs tools/main.sh and then tools/test.sh inside it with
# chroot, as root. Prints the last lines of each and exits non-zero if either
# fails. Mounts and the temporary root are removed on exit.
#
#   sudo tools/fresh_machine_check.sh            # mirror from /etc/apt/sources.list*
#   TLUA_MIRROR=http://deb.debian.org/debian tools/fresh_machine_check.sh
#   TLUA_KEEP_ROOT=1 ...                         # keep the root for a look afterwards
#   TLUA_TAIL=30 ...                             # how many last lines to print
#
# Needs root (debootstrap, mount, chroot) and network access to the mirror.
# Not run in CI: it downloads and builds everything (python3-torch included).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tail_n=${TLUA_TAIL:-15}

if [ "$(id -u)" != 0 ]; then
  echo "fresh_machine_check: must run as root (debootstrap, mount, chroot)" >&2
  exit 1
fi

# The mirror this machine already uses for bookworm: deb822 (URIs:) or one-line (deb URL).
mirror=${TLUA_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  mirror=$(printf '%s\n' "$mirror" |
    awk '/^[[:space:]]*#/ {next}
         /^URIs:/ {for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) {print $i; exit}}
         /^deb[[:space:]]/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/ && $i ~ /\/debian\/?$/) {print $i; exit}}' |
    head -n 1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
fi

if ! command -v debootstrap >/dev/null; then
  echo "fresh_machine_check: installing debootstrap" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
fi

work=$(mktemp -d /tmp/tlua-fresh.XXXXXX)
chroot_dir=$work/root
mounted=()
cleanup() {
  local rc=$?
  # Unmount in reverse order; lazy as a last resort so a busy /dev never leaves the root behind.
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" 2>/dev/null || true
  done
  if [ "${TLUA_KEEP_ROOT:-0}" = 1 ]; then
    echo "fresh_machine_check: root kept at $chroot_dir" >&2
  elif ! findmnt -rn -o TARGET | grep -q "^$work"; then
    rm -rf --one-file-system "$work"
  else
    echo "fresh_machine_check: mounts remain under $work, not removing it" >&2
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== debootstrap bookworm from $mirror into $chroot_dir"
if ! debootstrap --variant=minbase bookworm "$chroot_dir" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n "$tail_n" "$work/debootstrap.log"
  echo "fresh_machine_check: debootstrap failed" >&2
  exit 1
fi
# The fresh root sees the same mirror (plus security updates) as a new install would.
cat >"$chroot_dir/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
EOF
cp /etc/resolv.conf "$chroot_dir/etc/resolv.conf"
# Packages must not start services in the chroot (there is no init).
printf '#!/bin/sh\nexit 101\n' >"$chroot_dir/usr/sbin/policy-rc.d"
chmod +x "$chroot_dir/usr/sbin/policy-rc.d"

mount_in() { # type-or-bind source target
  mkdir -p "$chroot_dir$3"
  if [ "$1" = bind ]; then mount --bind "$2" "$chroot_dir$3"; else mount -t "$1" "$2" "$chroot_dir$3"; fi
  mounted+=("$chroot_dir$3")
}
mount_in proc proc /proc
mount_in sysfs sysfs /sys
mount_in bind /dev /dev
mount_in bind /dev/pts /dev/pts
mount_in tmpfs tmpfs /dev/shm

echo "== copying $(git -C "$root" rev-parse --short HEAD) (git archive HEAD) to /src/tlua"
mkdir -p "$chroot_dir/src/tlua"
git -C "$root" archive --format=tar HEAD | tar -x -C "$chroot_dir/src/tlua"

# Each README command in a login-like environment: root, no inherited PATH quirks.
run_in() { # name command
  local log=$work/$1.log rc=0
  echo "== chroot: $2"
  chroot "$chroot_dir" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 TERM=dumb /bin/bash -c "cd /src/tlua && $2" >"$log" 2>&1 || rc=$?
  echo "-- last $tail_n lines of $2 (exit $rc)"
  tail -n "$tail_n" "$log"
  return $rc
}
status=0
run_in main tools/main.sh || status=1
run_in test tools/test.sh || status=1
if [ $status = 0 ]; then
  echo "== fresh_machine_check: both README commands passed on a fresh Debian 12"
else
  echo "== fresh_machine_check: FAILED (see above)"
fi
exit $status
