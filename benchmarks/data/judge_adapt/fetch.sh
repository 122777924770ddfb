#!/usr/bin/env bash
# Build the folder the shipped judge was adapted on (`citegraph train judge --init ...`, see README.md):
# the 40 technical documents the questions in questions.jsonl ask about, from git mirrors of their public
# repositories at the recorded commits (sha256 checked), the questions themselves, and the part of the
# judge's general training folder the adaptation keeps reading (6 SQuAD v1.1 train pages and the three
# NLI train sets), copied from JUDGE_TRAIN (built by ../judge_train/fetch.sh).
#
#   benchmarks/data/judge_adapt/fetch.sh [TARGET]    # TARGET defaults to /tmp/judge_adapt
#
# Each repository is a git directory given by an environment variable; unset, the workspace's mirror path
# is tried (/work/.mirror/<owner>+<name>/repo, what the `fetch` tool creates). Only the files named below
# are written (existing ones overwritten); nothing is deleted.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../fetch_file.sh"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TARGET=${1:-/tmp/judge_adapt}
JUDGE_TRAIN=${JUDGE_TRAIN:-/tmp/judge_train}
MIRRORS=${MIRRORS:-/work/.mirror}
PWL_GIT=${PWL_GIT:-$MIRRORS/papers-we-love+papers-we-love/repo}
LETSENCRYPT_GIT=${LETSENCRYPT_GIT:-$MIRRORS/letsencrypt+website/repo}
PROMETHEUS_GIT=${PROMETHEUS_GIT:-$MIRRORS/prometheus+docs/repo}
HUGO_GIT=${HUGO_GIT:-$MIRRORS/gohugoio+hugoDocs/repo}
GIT_GIT=${GIT_GIT:-$MIRRORS/git+git/repo}
RESTIC_GIT=${RESTIC_GIT:-$MIRRORS/restic+restic/repo}
SYNCTHING_GIT=${SYNCTHING_GIT:-$MIRRORS/syncthing+docs/repo}
CELERY_GIT=${CELERY_GIT:-$MIRRORS/celery+celery/repo}

PWL_COMMIT=47567e0154e38b4a4cf3eb9e30296221e940522f
LETSENCRYPT_COMMIT=b89871ef735cbb447f8d72c86146fcc8e62fc4ab
PROMETHEUS_COMMIT=c105550aad07161f62d02e305ed09799ec6025fa
HUGO_COMMIT=1c613349f4220ae84070df25979d720c43e5cfa6
GIT_COMMIT=1a3e64c6c4a623626ff0687008732a8e007e2a1c
RESTIC_COMMIT=a80be1478a4c537f8396e0db2b05120aa78f11e0
SYNCTHING_COMMIT=766daa6e2b02f68dacc98eccbe49663b6168cbfd
CELERY_COMMIT=5dc781f0bd5f36186bfcc74e0a4f9f654452c69b

# git directory | commit | path in the repository | file under TARGET | sha256
FILES=(
  "$PWL_GIT|$PWL_COMMIT|datastores/tao-facebook-distributed-datastore.pdf|technical_qa/docs/tao.pdf|8ae968240ce312935a900584fa169bcf03fdd348b8309df1f5ed791bbf9fca2d"
  "$PWL_GIT|$PWL_COMMIT|datastores/megastore-providing-scalable-highly-available-storage-for-interactive-services.pdf|technical_qa/docs/megastore.pdf|d0c8cb663e5ff5fe83a2d67d28f84163e586477ebd9dd39e549cc7f4e5bd6d98"
  "$PWL_GIT|$PWL_COMMIT|datastores/rados-a-scalable-reliable-storage-service-for-petabyte-scale-storage-clusters.pdf|technical_qa/docs/rados.pdf|0d2b78afcc5d8d3598f14190aee2fd1ff0808e6ea3d93c44b0b3d00a19573449"
  "$PWL_GIT|$PWL_COMMIT|datastores/flat-datacenter-storage.pdf|technical_qa/docs/flat-datacenter-storage.pdf|ff0bb8032d0e90e7b39865d3791ef275dcfc62b215174887dfab7c8b7b3c2acc"
  "$PWL_GIT|$PWL_COMMIT|distributed_systems/chain-replication-for-supporting-high-throughput-and-availability.pdf|technical_qa/docs/chain-replication.pdf|1a16a4c0f4ea53979d77ccfa54d18f98874d7a4ea602e061fd2d6e32e56b60ac"
  "$PWL_GIT|$PWL_COMMIT|distributed_systems/copysets-reducing-the-frequency-of-data-loss-in-cloud-storage.pdf|technical_qa/docs/copysets.pdf|42b3c32dcc8a4914deb62927d674b82ba23ae5164554e3d20dc9b5098092888c"
  "$PWL_GIT|$PWL_COMMIT|distributed_systems/epidemic-algorithms-for-replicated-database-maintenance.pdf|technical_qa/docs/epidemic-algorithms.pdf|9283e9045c82451fa84c8533fde1fb5f8e7e19665287078d008179df95603132"
  "$PWL_GIT|$PWL_COMMIT|distributed_systems/zab-high-performance-broadcast-for-primary-backup-systems.pdf|technical_qa/docs/zab.pdf|9ebaf5a803fd9e03512c8d2c7edd0e8f04e829d4dbf4334b346b5a66961a6db4"
  "$PWL_GIT|$PWL_COMMIT|distributed_systems/the-akamai-network.pdf|technical_qa/docs/akamai-network.pdf|bd01782990ac71a1d10b57c150b5ea81226060df524dcc96e31bebf4ca9bd6a7"
  "$PWL_GIT|$PWL_COMMIT|distributed_systems/tor-the-second-generation-onion-router.pdf|technical_qa/docs/tor.pdf|03e42dd79d92a17366ce786ddd00ddd5d6be7629331eeea062753d243930853c"
  "$PWL_GIT|$PWL_COMMIT|information_retrieval/the-pagerank-citation-ranking-bringing-order-to-the-web.pdf|technical_qa/docs/pagerank.pdf|4473fcd2e4f98587474f9c1dc4909a4b92f0e151f52007b4acd627e627a63bbf"
  "$PWL_GIT|$PWL_COMMIT|distributed_systems/end-to-end-arguments-in-system-design.pdf|technical_qa/docs/end-to-end-arguments.pdf|3204a1a562d9d3b72ba112f20caddfd34991d6e1e39939ace6a3e7c016519768"
  "$PWL_GIT|$PWL_COMMIT|operating_systems/unix-time-sharing-system.pdf|technical_qa/docs/unix-time-sharing.pdf|96bc5caa11cc13925165b6d36b78c55cc61a61e65a628c375511683a97442b51"
  "$PWL_GIT|$PWL_COMMIT|comp_sci_fundamentals_and_history/hints-for-computer-system-design.pdf|technical_qa/docs/hints-system-design.pdf|8a213977a1730adbc67a093a1363549d566b5f15555aecd566aa03b2f8d1eee5"
  "$PWL_GIT|$PWL_COMMIT|distributed_systems/simple-testing-can-prevent-most-critical-failures.pdf|technical_qa/docs/simple-testing.pdf|2cd4463c773dae22259ed7c112f287b2126b669f75cc6777cc36b8cc8f964e09"
  "$PWL_GIT|$PWL_COMMIT|distributed_systems/large-scale-incremental-processing-using-distributed-transactions-and-notifications.pdf|technical_qa/docs/percolator.pdf|7a9e42fc3e58da94339eec8cba0468871815808fca5eef9158d46313331cea06"
  "$LETSENCRYPT_GIT|$LETSENCRYPT_COMMIT|content/en/docs/challenge-types.md|technical_qa/docs/letsencrypt-challenge-types.md|950761f3ab59acf6b1049ee0691b7470134e3fe5099595fde6b037a0c04093cb"
  "$LETSENCRYPT_GIT|$LETSENCRYPT_COMMIT|content/en/docs/rate-limits.md|technical_qa/docs/letsencrypt-rate-limits.md|5da7f37cb5c10c657fa505f0dfe624a918a6bca745fcf5f5234eb7dc97e2b1d5"
  "$LETSENCRYPT_GIT|$LETSENCRYPT_COMMIT|content/en/docs/revoking.md|technical_qa/docs/letsencrypt-revoking.md|f12e487d3d979c365061a0d8db23e3a7108e9d472957447af70321a135d9481c"
  "$LETSENCRYPT_GIT|$LETSENCRYPT_COMMIT|content/en/docs/staging-environment.md|technical_qa/docs/letsencrypt-staging-environment.md|cc60504d0a80798f8d8dc3a0aeeb1bbb5b1500ac92da95f158ffa6931a5602b6"
  "$LETSENCRYPT_GIT|$LETSENCRYPT_COMMIT|content/en/docs/caa.md|technical_qa/docs/letsencrypt-caa.md|fb1cecdae7755970a447035cc7539b131d7e697f045f69b0cec7571f2f24d198"
  "$LETSENCRYPT_GIT|$LETSENCRYPT_COMMIT|content/en/docs/integration-guide.md|technical_qa/docs/letsencrypt-integration-guide.md|99a7c427c6f85886a250a8c5da7cb4701f0dacfa2668703209eb2fb4b29fb007"
  "$PROMETHEUS_GIT|$PROMETHEUS_COMMIT|docs/concepts/metric_types.md|technical_qa/docs/prometheus-metric_types.md|6cd936ac134836d2b4786b98675520ca364081839a5a083a4e7b427808b3be62"
  "$PROMETHEUS_GIT|$PROMETHEUS_COMMIT|docs/concepts/data_model.md|technical_qa/docs/prometheus-data_model.md|03d8b2c8441c12daadad073fbc5ed527d3e36030d39fa62dfa17368ff701d6d2"
  "$PROMETHEUS_GIT|$PROMETHEUS_COMMIT|docs/concepts/jobs_instances.md|technical_qa/docs/prometheus-jobs_instances.md|8317c1f394807ee813e19e7df8754b6b6eef9b866bf5521267a1f74475408317"
  "$HUGO_GIT|$HUGO_COMMIT|content/en/content-management/front-matter.md|technical_qa/docs/hugo-front-matter.md|ac0a0e1bbf231b0676899366736085c542618cde7ba504f1c0ec9808782f9c22"
  "$HUGO_GIT|$HUGO_COMMIT|content/en/content-management/taxonomies.md|technical_qa/docs/hugo-taxonomies.md|da12c0028db55af61d2b0178f3f9cc3cef4c72bb44cd10c40d1325690b084497"
  "$HUGO_GIT|$HUGO_COMMIT|content/en/content-management/page-bundles.md|technical_qa/docs/hugo-page-bundles.md|b314ed3e9a2b785d2e7954b149b5147d89c2399b283b09e164c97a95b59c4db6"
  "$HUGO_GIT|$HUGO_COMMIT|content/en/content-management/urls.md|technical_qa/docs/hugo-urls.md|633b83a21e34e23a5ee868b0cc68924b26b3f0ca1c8dad6bcf5c7901b162000c"
  "$HUGO_GIT|$HUGO_COMMIT|content/en/content-management/multilingual.md|technical_qa/docs/hugo-multilingual.md|c178fc16ce39ac12052fdaf0b6eda01c0274264f4c1e5f6b3c1003ec20768049"
  "$HUGO_GIT|$HUGO_COMMIT|content/en/content-management/summaries.md|technical_qa/docs/hugo-summaries.md|10e83fa01b607596afc78f75f740e6904ab5be0b6d16e2de7614eea2dd5aff24"
  "$GIT_GIT|$GIT_COMMIT|Documentation/git-stash.adoc|technical_qa/docs/git-stash.txt|c75e10a38c84db088408f257952f3e6cb927006f7c38da70356781e103f7ea5f"
  "$GIT_GIT|$GIT_COMMIT|Documentation/git-bisect.adoc|technical_qa/docs/git-bisect.txt|33e3a137d1fab1b8d5223a0dec0021e129278684cb1d69d5b63edafb800e19d7"
  "$RESTIC_GIT|$RESTIC_COMMIT|doc/040_backup.rst|technical_qa/docs/restic-040_backup.txt|e7281c20f0ef27bdbbb5f59d12f64aef63fae33048c5bd6b086ff1973edd218e"
  "$RESTIC_GIT|$RESTIC_COMMIT|doc/050_restore.rst|technical_qa/docs/restic-050_restore.txt|00d39803cfcb17158c2ee1d835de6351c902e66067d2493438831580e9b04251"
  "$RESTIC_GIT|$RESTIC_COMMIT|doc/060_forget.rst|technical_qa/docs/restic-060_forget.txt|6f19c6d2ffcc41a4bd0e3e6f6cf00adba7cb49b3397aafda8f7e03b30e0a12e8"
  "$RESTIC_GIT|$RESTIC_COMMIT|doc/047_tuning_parameters.rst|technical_qa/docs/restic-047_tuning_parameters.txt|09145a7df2180a6bcf37069104f15182174b51e15d50c05c6eced2622d4da001"
  "$SYNCTHING_GIT|$SYNCTHING_COMMIT|users/ignoring.rst|technical_qa/docs/syncthing-ignoring.txt|cff4407626f4cfebd0de1576ca7b5a48f803191a27165e01ece494a6a6122449"
  "$SYNCTHING_GIT|$SYNCTHING_COMMIT|users/foldertypes.rst|technical_qa/docs/syncthing-foldertypes.txt|5941b43558ad5149e54529d1ec3921055efb4a667f63e866a20845bc3a5155eb"
  "$CELERY_GIT|$CELERY_COMMIT|docs/userguide/periodic-tasks.rst|technical_qa/docs/celery-periodic-tasks.txt|f12d5d3b4490a421da2b1db8ecfbedff57e220aaaee1d9be1015f90530a4a29b"
)

failed=0
fetch_files "$TARGET" "${FILES[@]}" || failed=1
cp "$HERE/questions.jsonl" "$TARGET/technical_qa/questions.jsonl"
# The general sets the adaptation keeps reading, so that the answer head still reads encyclopedic text and
# the support head does not drift: whole folders, and six SQuAD article pages.
for set in conjnli glue_rte sick2014; do
  if [[ -d $JUDGE_TRAIN/$set ]]; then cp -r "$JUDGE_TRAIN/$set" "$TARGET/"; else echo "missing: $JUDGE_TRAIN/$set (run ../judge_train/fetch.sh)" >&2; failed=1; fi
done
mkdir -p "$TARGET/squad_v1.1_train_explorer_html"
for page in Aspirated_consonant Brain Buckingham_Palace Emotion Richard_Feynman Virgil; do
  if ! cp "$JUDGE_TRAIN/squad_v1.1_train_explorer_html/$page.html" "$TARGET/squad_v1.1_train_explorer_html/"; then failed=1; fi
done
exit $failed
