#!/usr/bin/env bash
# Installs the system packages coresnap's tests and demo need, only where missing.
# Idempotent and quiet when everything is present, so `make test` stays fast on a warm machine.
set -euo pipefail

need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

have_cmd gcc        || need+=(gcc)
have_cmd g++        || need+=(g++)
have_cmd gdb        || need+=(gdb)
have_cmd eu-readelf || need+=(elfutils)
have_cmd lldb       || need+=(lldb)  # reads FreeBSD cores: the outside check of tests/bsdcore.py
have_cmd readelf    || need+=(binutils)
have_cmd make       || need+=(make)
have_pkg libc6-dbg  || need+=(libc6-dbg)
have_pkg gcc-multilib || need+=(gcc-multilib)
have_cmd psql       || need+=(postgresql-client)
have_cmd pg_ctlcluster || need+=(postgresql)
have_cmd chromium   || need+=(chromium)
have_cmd strace     || need+=(strace)  # the minicore tests record the snapshot's core reads
have_cmd go         || need+=(golang-go)  # Go crash tests (GOTRACEBACK=crash panics)
have_cmd rustc      || need+=(rustc)      # Rust panic=abort tests
have_cmd node       || need+=(nodejs)     # Node.js crash tests: Debian's node 18 exports V8's v8dbg_ metadata (libnode108)
have_cmd clang      || need+=(clang)      # DWARF 5 as LLVM writes it (addrx forms): the scope index tests
have_cmd systemd-analyze || need+=(systemd)  # the units verified (tests/deploy, tests/daemon/test_packaging.py)
have_cmd dpkg-deb   || need+=(dpkg)       # the Debian package (tools/build_deb.py, tests/deploy/test_deb.py)
have_cmd setpriv    || need+=(util-linux) # the package's daemons started as their users without systemd

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-system: missing packages: ${need[*]} (run as root to install them)" >&2
  exit 1
fi
echo "setup-system: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# gcc-multilib is optional (i386 tests skip without it); everything else is required.
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || {
  rest=()
  for p in "${need[@]}"; do [ "$p" = gcc-multilib ] || rest+=("$p"); done
  apt-get install -y -qq --no-install-recommends "${rest[@]}" >/dev/null
}
