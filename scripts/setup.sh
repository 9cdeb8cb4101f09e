#!/usr/bin/env bash
# Installs what makes remask fast: OpenBLAS, which remask loads at start (no
# cgo, no linking) for the BLAS that gorgonia and the inference forward use
# (DESIGN.md section 2). It is optional: without it remask runs on gonum's
# pure-Go BLAS, 3-4x slower to train. On Debian/Ubuntu it is installed
# with apt-get; elsewhere this says what to do and goes on. Go itself must
# already be on PATH (Go 1.26). Safe to run again.
set -euo pipefail
hint="install OpenBLAS with your system's package manager (e.g. brew install openblas, dnf install openblas) for 3-4x faster training, or go on without it: remask then uses pure-Go BLAS"
have_openblas() { # where remask looks (model/blas_openblas.go)
  ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so' ||
    compgen -G '/usr/lib*/libopenblas.so*' >/dev/null || compgen -G '/usr/lib/*/libopenblas.so*' >/dev/null ||
    compgen -G '/usr/local/lib/libopenblas.so*' >/dev/null || compgen -G '/opt/OpenBLAS/lib/libopenblas.so*' >/dev/null ||
    compgen -G '/opt/homebrew/opt/openblas/lib/libopenblas.dylib' >/dev/null ||
    compgen -G '/usr/local/opt/openblas/lib/libopenblas.dylib' >/dev/null ||
    compgen -G '/opt/local/lib/libopenblas.dylib' >/dev/null
}
if command -v apt-get >/dev/null && command -v dpkg >/dev/null; then
  if ! dpkg -s libopenblas0 >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    { $sudo apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libopenblas0 >/dev/null; } ||
      echo "setup: apt-get could not install libopenblas0; $hint" >&2
  fi
elif ! have_openblas; then
  echo "setup: no apt-get here, so OpenBLAS was not installed: $hint" >&2
fi
command -v go >/dev/null || { echo "setup: Go 1.26 is needed on PATH" >&2; exit 1; }
