#!/usr/bin/env bash
# Rebuild the DEVELOPMENT real-documents folder (questions in benchmarks/data/real_docs_dev/questions.json)
# from git mirrors of the public repositories listed in README.md, at the recorded commits, and check every
# file's sha256. None of these documents is in the evaluation set (benchmarks/data/real_docs/).
#
#   benchmarks/data/real_docs_dev/fetch.sh [TARGET]    # TARGET defaults to /tmp/realdocs_dev
#
# Each repository is a git directory (bare or .git), given by an environment variable; unset, the
# workspace's mirror path is tried (/work/.mirror/<owner>+<name>/repo, what the `fetch` tool creates):
#   PDFS_GIT     github.com/meetchandan/pdfs      (rdd-nsdi12.pdf, column-stores.pdf)
#   PCRE2_GIT    github.com/PCRE2Project/pcre2    (pcre2grep.html)
#   UVICORN_GIT  github.com/encode/uvicorn        (uvicorn_docs/*.md)
# Only the files named below are written (existing ones overwritten); nothing is deleted.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../fetch_file.sh"

TARGET=${1:-/tmp/realdocs_dev}
MIRRORS=${MIRRORS:-/work/.mirror}
PDFS_GIT=${PDFS_GIT:-$MIRRORS/meetchandan+pdfs/repo}
PCRE2_GIT=${PCRE2_GIT:-$MIRRORS/PCRE2Project+pcre2/repo}
UVICORN_GIT=${UVICORN_GIT:-$MIRRORS/encode+uvicorn/repo}

PDFS_COMMIT=4ef4100da7227986d29a58e571fc5a3c6a08141f
PCRE2_COMMIT=cbfe089624eabe89ec98524a2400467c858d481f      # last commit that changed doc/html/pcre2grep.html
UVICORN_COMMIT=e6c7ce791fc634b6eedee40e0d0207faa8a9aefd

# git directory | commit | path in the repository (may contain spaces) | file under TARGET | sha256
FILES=(
  "$PDFS_GIT|$PDFS_COMMIT|big-data/RDD Spark nsdi12-final138.pdf|rdd-nsdi12.pdf|64bf8651757c0696b5fc75cdcbed117f82e0f70396744b537c53c5530d4938a2"
  "$PDFS_GIT|$PDFS_COMMIT|ML/Columnar vs Row Paper.pdf|column-stores.pdf|40c9bfcc374443a2514a44f54adf511b79264d06ee530b75621de7f2d2a55c45"
  "$PCRE2_GIT|$PCRE2_COMMIT|doc/html/pcre2grep.html|pcre2grep.html|a7ea84098d27e2660c4fba5a85376be947874302948bbc7502ee96396f79dd0d"
  "$UVICORN_GIT|$UVICORN_COMMIT|docs/settings.md|uvicorn_docs/settings.md|071c4f774b0da4160154f10110cfbdf13235c21e2985787ae90720a1c9bf5866"
  "$UVICORN_GIT|$UVICORN_COMMIT|docs/server-behavior.md|uvicorn_docs/server-behavior.md|21eb8dac71ad37efbe7a99c7861a88da5de85cfb7ec849b02967ad751364794c"
  "$UVICORN_GIT|$UVICORN_COMMIT|docs/deployment/index.md|uvicorn_docs/deployment.md|da988ef34ba9e1a20dc5d937d03beeddc36b262bdec701d06e6388a5cb63e03f"
  "$UVICORN_GIT|$UVICORN_COMMIT|docs/index.md|uvicorn_docs/index.md|bcfaf6ca5b4fff72fff93eb1a552c0c3484aa4d844f244b3519fe4ec466629a7"
)

fetch_files "$TARGET" "${FILES[@]}"
