# shellcheck shell=bash
# Sourced by the scripts in this folder: run from the repository root, with the
# project's virtual environment (.venv, or $VENV) first on PATH when it exists.
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
VENV="${VENV:-.venv}"
if [ -x "$VENV/bin/python" ]; then
    PATH="$(cd "$VENV/bin" && pwd):$PATH"
    export PATH
fi
