#!/usr/bin/env bash
# Rebuild the technical-documents folder (questions in benchmarks/data/real_docs_tech/questions.json) from git
# mirrors of the public repositories listed in README.md, at the recorded commits, and check every file's
# sha256. None of these documents is in another question set.
#
#   benchmarks/data/real_docs_tech/fetch.sh [TARGET]    # TARGET defaults to /tmp/realdocs_tech
#
# Each repository is a git directory (bare or .git), given by an environment variable; unset, the
# workspace's mirror path is tried (/work/.mirror/<owner>+<name>/repo, what the `fetch` tool creates).
# Only the files named below are written (existing ones overwritten); nothing is deleted.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../fetch_file.sh"

TARGET=${1:-/tmp/realdocs_tech}
MIRRORS=${MIRRORS:-/work/.mirror}
PWL_GIT=${PWL_GIT:-$MIRRORS/papers-we-love+papers-we-love/repo}
POETRY_GIT=${POETRY_GIT:-$MIRRORS/python-poetry+poetry/repo}
PIP_GIT=${PIP_GIT:-$MIRRORS/pypa+pip/repo}
BREW_GIT=${BREW_GIT:-$MIRRORS/Homebrew+brew/repo}
GO_WEBSITE_GIT=${GO_WEBSITE_GIT:-$MIRRORS/golang+website/repo}
RCLONE_GIT=${RCLONE_GIT:-$MIRRORS/rclone+rclone/repo}
OLLAMA_GIT=${OLLAMA_GIT:-$MIRRORS/ollama+ollama/repo}
CARGO_GIT=${CARGO_GIT:-$MIRRORS/rust-lang+cargo/repo}

PWL_COMMIT=47567e0154e38b4a4cf3eb9e30296221e940522f
POETRY_COMMIT=f46702336862f30050d5c641d5ed6f7568ded793
PIP_COMMIT=6d309205789d368b2749d93fd6193d584811efd5
BREW_COMMIT=aad366ffaf6a8c94c66d35e4b990d42ac4195305
GO_COMMIT=b02076ae6df08ee9d495fe4b283f88ac18e51012
RCLONE_COMMIT=64ab1ac32260238eefca3c61327f5faf1c6e106f
OLLAMA_COMMIT=fb30760996871fa9460115c753afd2c60d4ab0f7
CARGO_COMMIT=af373f761aa4e42b093c2e453078fd73c8ce54dd

# git directory | commit | path in the repository | file under TARGET | sha256
FILES=(
  "$PWL_GIT|$PWL_COMMIT|datastores/dynamo-amazons-highly-available-key-value-store.pdf|dynamo-amazons-highly-available-key-valu.pdf|9fc14179b35337ccbe7a9db270cf04fb83f0989ea9e50bf9cf1fd70012b5ff60"
  "$PWL_GIT|$PWL_COMMIT|distributed_systems/the-chubby-lock-service-for-loosely-coupled-distributed-systems.pdf|the-chubby-lock-service-for-loosely-coup.pdf|0747c84a49d32744a2744e2f2951b05fb7a0829ce44afb0b700833eb2bb3ecdd"
  "$PWL_GIT|$PWL_COMMIT|datastores/bigtable-a-distributed-storage-system-for-structured-data.pdf|bigtable-a-distributed-storage-system-fo.pdf|9126cf3b930fd7be2de6248f82565c9b970482eb063bdc30be8c1b29c86b2167"
  "$PWL_GIT|$PWL_COMMIT|distributed_systems/zookeeper-wait-free-coordination-for-internet-scale-systems.pdf|zookeeper-wait-free-coordination-for-int.pdf|743d56888f7b698cf4d0a86a4538793bbbf3c94c8e21d5c27dc34369d56102a0"
  "$PWL_GIT|$PWL_COMMIT|digital_currency/bitcoin.pdf|bitcoin.pdf|b1674191a88ec5cdd733e4240a81803105dc412d6c6708d53ab94fc248f4f553"
  "$PWL_GIT|$PWL_COMMIT|distributed_systems/dapper-a-large-scale-distributed-tracing-infrastructure.pdf|dapper-a-large-scale-distributed-tracing.pdf|41baea09d066e0167ca0943968d44f7f07790be700440427f78c034910e5765d"
  "$PWL_GIT|$PWL_COMMIT|virtual_machines/live-migration-of-virtual-machines.pdf|live-migration-of-virtual-machines.pdf|915b417a5b765ec9d80e941a1d1cc3fe98b42027c52536811fb28aacc4d11cb7"
  "$PWL_GIT|$PWL_COMMIT|distributed_systems/mesos-a-platform-for-fine-grained-resource-sharing-in-the-data-center.pdf|mesos-a-platform-for-fine-grained-resour.pdf|d1d9c8a0173032ee8f6702ea98fc2dbe785621c9e8970b9a1e06ac60f3354501"
  "$PWL_GIT|$PWL_COMMIT|datastores/spanner-google's-globally-distributed-database.pdf|spanner-googles-globally-distributed-dat.pdf|8cf30f4b379da5873dc9f7d82595d5cdc402083091cfff0e7beb00fd84473ea5"
  "$POETRY_GIT|$POETRY_COMMIT|docs/basic-usage.md|poetry-basic-usage.md|edb260e8fc1b29dd4e722ba407c55d5bfd02f0df73ab8d62d96ac48cdc0cde54"
  "$POETRY_GIT|$POETRY_COMMIT|docs/managing-dependencies.md|poetry-managing-dependencies.md|5b777ebe9b039380f3279cb84886e9cf93bd1bc42c9982c42185530532da8fb0"
  "$POETRY_GIT|$POETRY_COMMIT|docs/managing-environments.md|poetry-managing-environments.md|c0421f9ca65f7b85d0100252f40f29ed3fd92d4acf559b5be7f26f4146c1753d"
  "$POETRY_GIT|$POETRY_COMMIT|docs/configuration.md|poetry-configuration.md|52d0429d4c21a4096b7197b1f1c4cedc26f5a323ef9d117f078e70a73c01b0c2"
  "$PIP_GIT|$PIP_COMMIT|docs/html/topics/caching.md|pip-caching.md|92b8dfa54cd11f8c62381038455995a0c6c324c64254b9e52c795952b5cf5241"
  "$PIP_GIT|$PIP_COMMIT|docs/html/topics/authentication.md|pip-authentication.md|86fd1426ba2b5147811c1969da14fa18136248a7097d3dfea078d15324ff6826"
  "$PIP_GIT|$PIP_COMMIT|docs/html/topics/repeatable-installs.md|pip-repeatable-installs.md|d79209cdae8317b863ab680adbbde78dbbe7d5f25616a17929309d786988ecbf"
  "$PIP_GIT|$PIP_COMMIT|docs/html/topics/dependency-resolution.md|pip-dependency-resolution.md|92c1191ffdc19e45cf6aab455c33188a0907bf9054803d242ec323d4ad305ec8"
  "$BREW_GIT|$BREW_COMMIT|docs/Brew-Bundle-and-Brewfile.md|brew-bundle.md|84a1ef72fdd786555f60015047a7d6fcbcd62cf033eb3cde73615572c2bb18e9"
  "$GO_WEBSITE_GIT|$GO_COMMIT|_content/doc/gc-guide.html|go-gc-guide.html|8ae1b5b7e53466aaa27ac5f2fc46f74e617362c02f6c419d352c4f7389558ba3"
  "$RCLONE_GIT|$RCLONE_COMMIT|docs/content/filtering.md|rclone-filtering.md|facc5d86e89db2d430b8e8acd23bd724f2cac627a7ff92ba5c52234de9fb559e"
  "$OLLAMA_GIT|$OLLAMA_COMMIT|docs/modelfile.mdx|ollama-modelfile.md|555684f1536195421c71dc93dfd1b4669605709f50d3934ccf4aa8a323e3e5d0"
  "$OLLAMA_GIT|$OLLAMA_COMMIT|docs/import.mdx|ollama-import.md|25890cc39e68a5799b611a0dc1a94c6b4bd8d3bf6e9d9128b33e88327d540a1c"
  "$CARGO_GIT|$CARGO_COMMIT|doc/book/src/reference/profiles.md|cargo-profiles.md|0fda6b81808b2ee7bd65da5b1e89e147d92ffa4243d4f01a578c92c86dda4dc6"
  "$CARGO_GIT|$CARGO_COMMIT|doc/book/src/reference/workspaces.md|cargo-workspaces.md|7cc50fcc5485a1cfcfa9a3de80b599563a5da36893e684008ef434abb39d4879"
  "$CARGO_GIT|$CARGO_COMMIT|doc/book/src/reference/overriding-dependencies.md|cargo-overriding-dependencies.md|ffd1cb9e87b23db77b65af03966b36f43e43736930923693919ef3aa04c67387"
)

fetch_files "$TARGET" "${FILES[@]}"
