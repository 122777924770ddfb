#!/usr/bin/env bash
# Rebuild the Gunicorn-docs folder (questions in benchmarks/data/real_docs_gunicorn/questions.json) from a
# git mirror of github.com/benoitc/gunicorn at the recorded commit, and check every file's sha256.
#
#   benchmarks/data/real_docs_gunicorn/fetch.sh [TARGET]    # TARGET defaults to /tmp/realdocs_gunicorn
#
# GUNICORN_GIT is the repository's git directory (bare or .git); unset, the workspace's mirror path is tried
# (/work/.mirror/benoitc+gunicorn/repo, what the `fetch` tool creates). Only the files named below are
# written (existing ones overwritten); nothing is deleted.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../fetch_file.sh"

TARGET=${1:-/tmp/realdocs_gunicorn}
MIRRORS=${MIRRORS:-/work/.mirror}
GUNICORN_GIT=${GUNICORN_GIT:-$MIRRORS/benoitc+gunicorn/repo}
GUNICORN_COMMIT=65ac1a3a4c0aa00960968c720d6e6bd2ac32f1b9

# git directory | commit | path in the repository | file under TARGET | sha256
FILES=(
  "$GUNICORN_GIT|$GUNICORN_COMMIT|docs/content/design.md|design.md|03821ef761de425511aa0c0480aff9c12d24bb99a067529b5262039dc487f33c"
  "$GUNICORN_GIT|$GUNICORN_COMMIT|docs/content/signals.md|signals.md|271a869857440a8f2eea4a2aef210cb7d1547c757dbdfa94bfa89a4eb0a0a4f6"
  "$GUNICORN_GIT|$GUNICORN_COMMIT|docs/content/deploy.md|deploy.md|a64af04d64378760a98d46d7509475cdea72bd20092d5a67b2c292ae963a14f2"
  "$GUNICORN_GIT|$GUNICORN_COMMIT|docs/content/configure.md|configure.md|476222dece065a021488f7f72441b0a42adb7d474cc2db8c6fbac909c40380a5"
)

fetch_files "$TARGET" "${FILES[@]}"
