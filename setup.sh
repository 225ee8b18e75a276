#!/usr/bin/env bash
# One-step setup on a fresh Debian machine: system packages, a virtual environment in .venv, homage itself.
# Idempotent: re-running it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(ffmpeg fluidsynth fluid-soundfont-gm espeak-ng)
# `bash setup.sh --corpus`: also what `homage data build` draws on — more General-MIDI SoundFonts and
# Debian game-music packages (real recordings, used as distractors).
if [ "${1:-}" = "--corpus" ]; then
    APT_PACKAGES+=(timgm6mb-soundfont fluidr3mono-gm-soundfont musescore-general-soundfont-small
                   wesnoth-1.16-music singularity-music asc-music)
fi
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# torch first and pinned: the CPU wheel is found locally; nothing may pull another build.
.venv/bin/python -m pip install -q --disable-pip-version-check "torch==2.13.0"
# the core, plus what the demo (data, lyrics) and the tests (train, api, ray, dev) need
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[data,lyrics,train,api,ray,dev]"
echo "homage is set up: .venv/bin/homage --help"
