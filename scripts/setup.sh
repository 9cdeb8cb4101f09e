#!/usr/bin/env bash
# Installs what remask needs to build on Debian/Ubuntu: OpenBLAS for the BLAS
# that gorgonia and the inference forward use (DESIGN.md section 2). Go itself
# must already be on PATH (Go 1.26). Safe to run again.
set -euo pipefail
if ! dpkg -s libopenblas-dev >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libopenblas-dev >/dev/null
fi
command -v go >/dev/null || { echo "setup: Go 1.26 is needed on PATH" >&2; exit 1; }
