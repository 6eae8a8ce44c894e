#!/usr/bin/env bash
# Installs what Deskbeam needs on Debian/Ubuntu: `deps.sh run` for building and running,
# `deps.sh test` adds the test tools (Chromium, Node.js, X utilities), `deps.sh bench` ffmpeg.
set -euo pipefail

mode="${1:-run}"
run_pkgs=(build-essential pkg-config nasm libxcb1-dev libxcb-shm0-dev libxcb-randr0-dev libopus-dev libpulse-dev xvfb x11-xserver-utils x11-utils x11-apps xterm)
test_pkgs=(chromium xdotool nodejs npm iproute2 pulseaudio pulseaudio-utils nftables)

pkgs=("${run_pkgs[@]}")
if [ "$mode" = "test" ]; then pkgs+=("${test_pkgs[@]}"); fi
if [ "$mode" = "venv" ]; then pkgs=(python3-venv python3-pip); fi
# The benchmark compares against ffmpeg's x11grab + libx264 on the same screen.
if [ "$mode" = "bench" ]; then pkgs+=(ffmpeg); fi

missing=()
for p in "${pkgs[@]}"; do
  # npm/nodejs may come from elsewhere (nodesource, nvm): trust the commands when present.
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "deskbeam: missing packages: ${missing[*]}" >&2
  echo "deskbeam: install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "deskbeam: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
