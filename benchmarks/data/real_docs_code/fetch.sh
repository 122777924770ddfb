#!/usr/bin/env bash
# Rebuild the code-answers folder (questions in benchmarks/data/real_docs_code/questions.json) from a git
# mirror of Starlette at the recorded commit, and check every file's sha256.
#
#   benchmarks/data/real_docs_code/fetch.sh [TARGET]    # TARGET defaults to /tmp/realdocs_code
#
# The repository is a git directory (bare or .git) given by STARLETTE_GIT; unset, the workspace's mirror
# path is tried (/work/.mirror/encode+starlette/repo, what the `fetch` tool creates).
# Only the files named below are written (existing ones overwritten); nothing is deleted.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../fetch_file.sh"

TARGET=${1:-/tmp/realdocs_code}
MIRRORS=${MIRRORS:-/work/.mirror}
STARLETTE_GIT=${STARLETTE_GIT:-$MIRRORS/encode+starlette/repo}

STARLETTE_COMMIT=cb8f84f5284dc301ca7a31eb732b9e140769dd48

# git directory | commit | path in the repository | file under TARGET | sha256
FILES=(
  "$STARLETTE_GIT|$STARLETTE_COMMIT|docs/requests.md|starlette-requests.md|54d6abb17b839f35595e19be202baadb2ee37305093baa25e5a522050a29e692"
  "$STARLETTE_GIT|$STARLETTE_COMMIT|docs/responses.md|starlette-responses.md|0dbd4b25ebd3940b74dde4f6598853cb34a05266c93ba207dcc2e195c2402e1e"
  "$STARLETTE_GIT|$STARLETTE_COMMIT|docs/testclient.md|starlette-testclient.md|39187748c0fa936bdf0c3d6c39d96252c68494489954fe2a2db5700cb83f4b76"
  "$STARLETTE_GIT|$STARLETTE_COMMIT|docs/staticfiles.md|starlette-staticfiles.md|d2d542c92de501b8723df67b0f35b32e3da7e071baeec0a5b6c4e472eb9ba9f7"
  "$STARLETTE_GIT|$STARLETTE_COMMIT|docs/background.md|starlette-background.md|e2c622d46ad52bf7d90abe62fd75f355c1ff6f46a0b8a1d55d18e3875bbece63"
  "$STARLETTE_GIT|$STARLETTE_COMMIT|docs/config.md|starlette-config.md|455c2eed67b8f43f43231fd390fde84e4fb41bf631aee3535c56589d5261e484"
)

fetch_files "$TARGET" "${FILES[@]}"
