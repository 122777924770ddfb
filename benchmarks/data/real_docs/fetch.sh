#!/usr/bin/env bash
# Rebuild the real-documents folder for benchmarks/real_docs.py from git mirrors of the public repositories
# listed in README.md, at the recorded commits, and check every file's sha256.
#
#   benchmarks/data/real_docs/fetch.sh [TARGET]        # TARGET defaults to /tmp/realdocs
#
# Each repository is a git directory (bare or .git), given by an environment variable; unset, the
# workspace's mirror path is tried (/work/.mirror/<owner>+<name>/repo, what the `fetch` tool creates):
#   PAPERS_GIT  github.com/Nori-onigiri/Distrubted-Paper   (raft.pdf, gfs.pdf)
#   PDFS_GIT    github.com/meetchandan/pdfs                (mapreduce-osdi04.pdf)
#   LUA_GIT     github.com/walterschell/Lua                (lua-manual.html)
#   HTTPX_GIT   github.com/encode/httpx                    (httpx_docs/*.md)
# Only the files named below are written (existing ones overwritten); nothing is deleted.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../fetch_file.sh"

TARGET=${1:-/tmp/realdocs}
MIRRORS=${MIRRORS:-/work/.mirror}
PAPERS_GIT=${PAPERS_GIT:-$MIRRORS/Nori-onigiri+Distrubted-Paper/repo}
PDFS_GIT=${PDFS_GIT:-$MIRRORS/meetchandan+pdfs/repo}
LUA_GIT=${LUA_GIT:-$MIRRORS/walterschell+Lua/repo}
HTTPX_GIT=${HTTPX_GIT:-$MIRRORS/encode+httpx/repo}

PAPERS_COMMIT=a4282ecc743b9c4d8b54d33e4ea1092addc72ed9   # branch "raft", not the default branch
PDFS_COMMIT=4ef4100da7227986d29a58e571fc5a3c6a08141f
LUA_COMMIT=52674cd192943015b99f51225f8cf8a116aa7293
HTTPX_COMMIT=ae1b9f66238f75ced3ced5e4485408435de10768

# git directory | commit | path in the repository | file under TARGET | sha256
FILES=(
  "$PAPERS_GIT|$PAPERS_COMMIT|raft.pdf|raft.pdf|c9c0d673b923e9ec6ba5ecdab4bc6c343b5f4b981896ba8888e9396b0c51f9ed"
  "$PAPERS_GIT|$PAPERS_COMMIT|gfs.pdf|gfs.pdf|ff8b554775178479b1c2a8adec2cf735133085ba88faf180e7f927682d801629"
  "$PDFS_GIT|$PDFS_COMMIT|big-data/mapreduce-osdi04.pdf|mapreduce-osdi04.pdf|5bfdb24e280548dc8856037ba55b320de93ce13adc7079613256cb2323f4d69f"
  "$LUA_GIT|$LUA_COMMIT|lua-5.4.7/doc/manual.html|lua-manual.html|3007bc72162a1014cf44b2434cbf0387c04e1ecf7ef68cd966419cb6a901e257"
  "$HTTPX_GIT|$HTTPX_COMMIT|docs/api.md|httpx_docs/api.md|1a06eb7913abdafce110b6373e6c838b65c73b25113bbafdde68c224d0e95759"
  "$HTTPX_GIT|$HTTPX_COMMIT|docs/async.md|httpx_docs/async.md|b0722b05e5b8aad6b2518fda345907092a5d4f11c337d50242f7a0a03e739e5b"
  "$HTTPX_GIT|$HTTPX_COMMIT|docs/code_of_conduct.md|httpx_docs/code_of_conduct.md|711021e871cb55ba15ae4fc040e404e5edece35f649fcbe517126382e7e4f30f"
  "$HTTPX_GIT|$HTTPX_COMMIT|docs/compatibility.md|httpx_docs/compatibility.md|2a9b79a4c0fcf9f8b765e0e45792dd72114ea845ef11ad353a3582227eebf218"
  "$HTTPX_GIT|$HTTPX_COMMIT|docs/contributing.md|httpx_docs/contributing.md|88182650dd83fc38ac39de2fa8cadbee937ff72afdbdd7d4721f4e84aef2f520"
  "$HTTPX_GIT|$HTTPX_COMMIT|docs/environment_variables.md|httpx_docs/environment_variables.md|1eba9a41026ed8058802f50b4036685c205717690fcdc8b9588698671fafedaa"
  "$HTTPX_GIT|$HTTPX_COMMIT|docs/exceptions.md|httpx_docs/exceptions.md|5e59ac5575373f359c45b8685cfb5813ba8d3a834052c7c0427789b32722324f"
  "$HTTPX_GIT|$HTTPX_COMMIT|docs/http2.md|httpx_docs/http2.md|51010101b5aff566dcdfdf94cb5e0ef644caf5411b84749753a9da79d28caaf7"
  "$HTTPX_GIT|$HTTPX_COMMIT|docs/index.md|httpx_docs/index.md|00d2d9161b50c16430085c4567b6a8f20def7195fd5f04cb84738c44f1aebaf5"
  "$HTTPX_GIT|$HTTPX_COMMIT|docs/logging.md|httpx_docs/logging.md|45fa8302ac520253fd178e45d266c5e8557adce887b39ddb3aefb2ec6ef365a9"
  "$HTTPX_GIT|$HTTPX_COMMIT|docs/quickstart.md|httpx_docs/quickstart.md|c911c7def119041a4ad2b436548eacc00a825ee5cb5c234b85a8e04c8da64811"
  "$HTTPX_GIT|$HTTPX_COMMIT|docs/third_party_packages.md|httpx_docs/third_party_packages.md|607d99b1826bcc78b9b2cc8859d3d3c311d461cfbde142063d80bfd8af10bf21"
  "$HTTPX_GIT|$HTTPX_COMMIT|docs/troubleshooting.md|httpx_docs/troubleshooting.md|3a9f68c58a03575ac88ce94da22d2f7c93d2e88df54e7f9be1061ca6fafd3c96"
)

fetch_files "$TARGET" "${FILES[@]}"
