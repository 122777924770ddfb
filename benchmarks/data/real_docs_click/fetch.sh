#!/usr/bin/env bash
# Rebuild the Click-docs folder (questions in benchmarks/data/real_docs_click/questions.json) from a git
# mirror of github.com/pallets/click at the recorded commit, and check every file's sha256.
#
#   benchmarks/data/real_docs_click/fetch.sh [TARGET]    # TARGET defaults to /tmp/realdocs_click
#
# CLICK_GIT is the repository's git directory (bare or .git); unset, the workspace's mirror path is tried
# (/work/.mirror/pallets+click/repo, what the `fetch` tool creates). Only the files named below are written
# (existing ones overwritten); nothing is deleted.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../fetch_file.sh"

TARGET=${1:-/tmp/realdocs_click}
MIRRORS=${MIRRORS:-/work/.mirror}
CLICK_GIT=${CLICK_GIT:-$MIRRORS/pallets+click/repo}
CLICK_COMMIT=2c8cd3ac958a7eb316d67f2d316c27086c4c0369

# git directory | commit | path in the repository | file under TARGET | sha256
FILES=(
  "$CLICK_GIT|$CLICK_COMMIT|docs/options.md|options.md|59b68f20f2c6eb85530c6f45cefd0fb28ae9e6292fe388f96b381f9e87b848a5"
  "$CLICK_GIT|$CLICK_COMMIT|docs/prompts.md|prompts.md|409509e5aba1fb846c24ba716e89fe44ec4e064be5adadbe9d254f227a1a0bf8"
  "$CLICK_GIT|$CLICK_COMMIT|docs/testing.md|testing.md|61c905c17ecacd1661478b018d4b4607bedcecd22a340c7a61cf0f684abd33bb"
  "$CLICK_GIT|$CLICK_COMMIT|docs/utils.md|utils.md|54cffd20cd7acbcfbd316a449d9b66c923008a12ac23a0b479bfe32a8ff7ffb3"
  "$CLICK_GIT|$CLICK_COMMIT|docs/arguments.md|arguments.md|54844bf17df1cfd1f98eb506c5c456b27aef46c578e1b40d6e5c2075a6cac39d"
  "$CLICK_GIT|$CLICK_COMMIT|docs/parameter-types.md|parameter-types.md|e0cc2f73d578e0057754e8dd2b16d59b9570a28ddac681f19f023d1384088aec"
)

fetch_files "$TARGET" "${FILES[@]}"
