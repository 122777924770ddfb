#!/usr/bin/env bash
# Rebuild the command-line-manuals folder (questions in benchmarks/data/real_docs_cli/questions.json) from
# git mirrors of the public repositories listed in README.md, at the recorded commits, and check every
# file's sha256.
#
#   benchmarks/data/real_docs_cli/fetch.sh [TARGET]    # TARGET defaults to /tmp/realdocs_cli
#
# Each repository is a git directory (bare or .git), given by an environment variable; unset, the
# workspace's mirror path is tried (/work/.mirror/<owner>+<name>/repo, what the `fetch` tool creates):
#   RIPGREP_GIT  github.com/BurntSushi/ripgrep   (FAQ.md, GUIDE.md)
#   FD_GIT       github.com/sharkdp/fd           (README.md)
# Only the files named below are written (existing ones overwritten); nothing is deleted.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../fetch_file.sh"

TARGET=${1:-/tmp/realdocs_cli}
MIRRORS=${MIRRORS:-/work/.mirror}
RIPGREP_GIT=${RIPGREP_GIT:-$MIRRORS/BurntSushi+ripgrep/repo}
FD_GIT=${FD_GIT:-$MIRRORS/sharkdp+fd/repo}

RIPGREP_COMMIT=3fce3b5bb0236da2df6d99672afb8a719642eca7
FD_COMMIT=ee20f426ddf338ac7ead5c5f00ea49258005caaf

# git directory | commit | path in the repository | file under TARGET | sha256
FILES=(
  "$RIPGREP_GIT|$RIPGREP_COMMIT|FAQ.md|ripgrep-FAQ.md|4359aaf42d65b787d70c94085108c3f4cf3d4169284b5fb60a98085caaa13c81"
  "$RIPGREP_GIT|$RIPGREP_COMMIT|GUIDE.md|ripgrep-GUIDE.md|156337b59d9813beadc8f7489e9e86da9eec2c09e755e6baa31ec2c40c7e77eb"
  "$FD_GIT|$FD_COMMIT|README.md|fd-README.md|9c4547aa703c8bf329c862b30053cf138024fb9265dc23541604e9b056dd5811"
)

fetch_files "$TARGET" "${FILES[@]}"
