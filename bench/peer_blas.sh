# bench/peer_blas.sh — sourced by the bench runners: the PyTorch peer's
# OpenMP OpenBLAS (Debian's libopenblas0-openmp, unpacked once into
# bench/.peer, never installed) and the OpenBLAS kernel for this CPU.
# Sets peer_lib (the library folder to preload for the peer) and coretype.
# Expects $here (the bench folder).
peer=$here/.peer
if [ ! -e "$peer/usr/lib/x86_64-linux-gnu/openblas-openmp" ]; then
  mkdir -p "$peer/debs"
  (cd "$peer/debs" && apt-get download libopenblas0-openmp >/dev/null 2>&1) || {
    apt-get update >/dev/null && (cd "$peer/debs" && apt-get download libopenblas0-openmp); }
  for f in "$peer"/debs/*.deb; do dpkg -x "$f" "$peer"; done
fi
peer_lib=$peer/usr/lib/x86_64-linux-gnu/openblas-openmp
coretype=
grep -q avx512f /proc/cpuinfo && coretype=SkylakeX
