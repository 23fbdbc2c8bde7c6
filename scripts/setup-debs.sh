#!/usr/bin/env bash
# The Debian packages qasynth's tests and tools need (called by scripts/setup.sh): python3 (+ numpy, sympy) and
# bubblewrap for the python_interpreter sandbox, the FOLDOC / Jargon File dictionaries the offline web corpus is
# built from, docker-compose for the compose check. Installs the missing ones as root (or with passwordless sudo),
# otherwise prints the apt-get line to run.
#
# Another apt or dpkg process (unattended-upgrades, a second setup) holding the package locks is waited for,
# visibly and at most QASYNTH_APT_LOCK_TIMEOUT seconds (default 300): the lists lock before `apt-get update`
# (polled here: apt 2.6 has no timeout option for it), the dpkg locks by apt itself (DPkg::Lock::Timeout).
# QASYNTH_SETUP_DEBS replaces the package list (the setup test uses it).
set -euo pipefail

DEBS="${QASYNTH_SETUP_DEBS:-python3 python3-pip python3-numpy python3-sympy bubblewrap dict-foldoc dict-jargon docker-compose chromium}"
LOCK_TIMEOUT="${QASYNTH_APT_LOCK_TIMEOUT:-300}"

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
  for p in $DEBS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
fi
[ -n "$missing" ] || exit 0

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo"
  else
    echo "setup: warning: missing Debian packages:$missing" >&2
    echo "setup:   install them with: sudo apt-get install$missing" >&2
    exit 0
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: warning: missing Debian packages:$missing (no apt-get here: install them with your package manager)" >&2
  exit 0
fi

# The pid and name of the process holding a POSIX lock on file $1 (as apt and dpkg lock), read from /proc/locks
# without touching the lock; nothing when it is free.
lock_holder() {
  local ino pid
  ino=$(stat -c %i "$1" 2>/dev/null) || return 0
  pid=$(awk -v ino="$ino" '$2 == "POSIX" { n = split($6, a, ":"); if (a[n] == ino) { print $5; exit } }' /proc/locks 2>/dev/null || true)
  [ -n "$pid" ] && echo "$pid ($(cat "/proc/$pid/comm" 2>/dev/null || echo '?'))"
  return 0
}

# Waits (bounded, saying so every 10 s) while another process holds lock file $1.
wait_for_lock() {
  local waited=0 holder
  while holder=$(lock_holder "$1") && [ -n "$holder" ]; do
    if [ "$waited" -ge "$LOCK_TIMEOUT" ]; then
      echo "setup: error: $1 is still held by process $holder after $LOCK_TIMEOUT s; wait for it to finish (or set QASYNTH_APT_LOCK_TIMEOUT) and run setup again" >&2
      return 1
    fi
    if [ $((waited % 10)) = 0 ]; then
      echo "setup: waiting for another apt/dpkg process to finish: $1 is held by process $holder (${waited} s of at most $LOCK_TIMEOUT s)" >&2
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

echo "setup: installing Debian packages${SUDO:+ with sudo}:$missing" >&2
for f in /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock; do
  holder=$(lock_holder "$f")
  [ -z "$holder" ] || echo "setup: $f is held by process $holder; apt-get waits for it (at most $LOCK_TIMEOUT s)" >&2
done
wait_for_lock /var/lib/apt/lists/lock
$SUDO apt-get -o DPkg::Lock::Timeout="$LOCK_TIMEOUT" update -qq >&2
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$LOCK_TIMEOUT" install -y -qq --no-install-recommends $missing >&2
