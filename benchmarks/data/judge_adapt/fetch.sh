#!/usr/bin/env bash
# Build the folder the shipped judge was adapted on (`citegraph train judge --init ...`, see README.md):
# the 40 technical documents the questions in questions.jsonl ask about, from git mirrors of their public
# repositories at the recorded commits (sha256 checked), the questions themselves, and the part of the
# judge's general training folder the adaptation keeps reading (6 SQuAD v1.1 train pages and the three
# NLI train sets), copied from JUDGE_TRAIN (built by ../judge_train/fetch.sh).
#
#   benchmarks/data/judge_adapt/fetch.sh [TARGET [SHORTLISTS]]   # defaults: /tmp/judge_adapt, /tmp/judge_shortlists
#
# SHORTLISTS gets the listwise stage's folder (`citegraph train judge --listwise`): the 49 documents of the
# second round of questions beside the first 40, and both rounds' questions (questions.jsonl, then
# questions_round2.jsonl).
#
# Each repository is a git directory given by an environment variable; unset, the workspace's mirror path
# is tried (/work/.mirror/<owner>+<name>/repo, what the `fetch` tool creates). Only the files named below
# are written (existing ones overwritten); nothing is deleted.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../fetch_file.sh"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TARGET=${1:-/tmp/judge_adapt}
SHORTLISTS=${2:-/tmp/judge_shortlists}
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
RUSTBOOK_GIT=${RUSTBOOK_GIT:-$MIRRORS/rust-lang+book/repo}
BORG_GIT=${BORG_GIT:-$MIRRORS/borgbackup+borg/repo}
TERRAFORM_GIT=${TERRAFORM_GIT:-$MIRRORS/hashicorp+terraform/repo}
MKDOCS_GIT=${MKDOCS_GIT:-$MIRRORS/mkdocs+mkdocs/repo}
FISH_GIT=${FISH_GIT:-$MIRRORS/fish-shell+fish-shell/repo}
PYTEST_GIT=${PYTEST_GIT:-$MIRRORS/pytest-dev+pytest/repo}
LOKI_GIT=${LOKI_GIT:-$MIRRORS/grafana+loki/repo}
ANSIBLE_GIT=${ANSIBLE_GIT:-$MIRRORS/ansible+ansible-documentation/repo}

PWL_COMMIT=47567e0154e38b4a4cf3eb9e30296221e940522f
LETSENCRYPT_COMMIT=b89871ef735cbb447f8d72c86146fcc8e62fc4ab
PROMETHEUS_COMMIT=c105550aad07161f62d02e305ed09799ec6025fa
HUGO_COMMIT=1c613349f4220ae84070df25979d720c43e5cfa6
GIT_COMMIT=1a3e64c6c4a623626ff0687008732a8e007e2a1c
RESTIC_COMMIT=a80be1478a4c537f8396e0db2b05120aa78f11e0
SYNCTHING_COMMIT=766daa6e2b02f68dacc98eccbe49663b6168cbfd
CELERY_COMMIT=5dc781f0bd5f36186bfcc74e0a4f9f654452c69b
RUSTBOOK_COMMIT=917544888a55e4da7109bdba8c88c893c0da70f4
BORG_COMMIT=fc74d5f643d17d5341e303cd5ed4ddeb425660f0
TERRAFORM_COMMIT=883c7221ee2e0bc2fad6912fd4b3cc4b53a598a7
MKDOCS_COMMIT=2862536793b3c67d9d83c33e0dd6d50a791928f8
FISH_COMMIT=ff724192d0353341cef6a0a8154b59603d533cd1
PYTEST_COMMIT=df87db7b0462fb764ef73fa00561adf8ad047572
LOKI_COMMIT=65e30f8488e8a5ea2013c6881675f8103a8f6bc7
ANSIBLE_COMMIT=ef72400cc2f70f974ffbb30b63098b31dbd36b07

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

# The second round of questions' documents, which only the listwise stage reads: under SHORTLISTS, outside
# TARGET, so that the stage-2 folder (read whole by `read_folder`) stays what the shipped judge used.
ROUND2_FILES=(
  "$PWL_GIT|$PWL_COMMIT|api_design/api-design.pdf|docs/api-design.pdf|f26c1b86fd18e8d746229d02b82cf494111646b5701f79fe4aaeb95e126d713d"
  "$PWL_GIT|$PWL_COMMIT|distributed_systems/a-note-on-distributed-computing.pdf|docs/note-on-distributed-computing.pdf|eaf8aa45d7df9c68db9396a81ebd81a888a3b649d7b78e653304fa7ef2f9b7e8"
  "$PWL_GIT|$PWL_COMMIT|audio_comp_sci/shazam-audio-search-algorithm.pdf|docs/shazam.pdf|c0701d84d1164e7fd3ee8210f40c06bad5703a1f6f889fe1974b65df069d680c"
  "$PWL_GIT|$PWL_COMMIT|distributed_systems/brewers-conjecture.pdf|docs/brewers-conjecture.pdf|3ede917046b510c7d0b1cb0ecd78f718aecba8ae362d1e8641db898b42248c8c"
  "$PWL_GIT|$PWL_COMMIT|distributed_systems/harvest-yield-and-scalable-tolerant-systems.pdf|docs/harvest-yield.pdf|dd4f89bff6afa94d9960932ec678f4c68c5fa4d94048bc940d4bc06de1e34d3d"
  "$PWL_GIT|$PWL_COMMIT|economics/online-ad-auctions.pdf|docs/online-ad-auctions.pdf|690a5e2b738bd8d8ccc33e3f9d23c7ccf002693aa69a6cea773d759183a2156d"
  "$PWL_GIT|$PWL_COMMIT|caching/2q-a-low-overhead-high-performance-buffer-management-replacement-algorithm.pdf|docs/2q-buffer.pdf|98fa2c32a6ea1b1eb63522bf69a7ec2c63b6c863f1279e262ea2a765e4b329a7"
  "$PWL_GIT|$PWL_COMMIT|distributed_systems/stronger-semantics-for-low-latency-geo-replicated-storage.pdf|docs/eiger.pdf|f68320935eb3196add8c2bd640941907ddd0e97b15dbe1a591590bb72e36e606"
  "$PWL_GIT|$PWL_COMMIT|datastores/freenet-a-distributed-anonymous-information-and-retrieval-system.pdf|docs/freenet.pdf|6f620c685bd7437ea014e2dbaecaa17df941486a585bf77fdc0e2ecbc1462cb4"
  "$PWL_GIT|$PWL_COMMIT|distributed_systems/kelips-building-an-efficient-and-stable-p2p-dht-through-increased-memory-and-background-overhead.pdf|docs/kelips.pdf|356a6f26fa99fd9f9264d8b3c41227a2e812777eca590c5e4b2f3601b310947f"
  "$PWL_GIT|$PWL_COMMIT|distributed_systems/tiered-replication-a-cost-effective-alternative-to-full-cluster-geo-replication.pdf|docs/tiered-replication.pdf|40b7d7a9de4ea692ef7f3fe00d1f984fb9971ace0a1153b62b1cfc797e55b15e"
  "$PWL_GIT|$PWL_COMMIT|data_structures/b-trees-write-optimization.pdf|docs/b-trees-write-optimization.pdf|8c32da43249a92748e710d9a1659490d7b2e6de468db1fa47288c48a505700e4"
  "$RUSTBOOK_GIT|$RUSTBOOK_COMMIT|src/ch04-01-what-is-ownership.md|docs/rust-ownership.md|873724c6862ad0cc447becf0e818eb39a324c5d4bfa26ef721286aae1941c0ba"
  "$RUSTBOOK_GIT|$RUSTBOOK_COMMIT|src/ch08-02-strings.md|docs/rust-strings.md|c69284d04088681b53c2fd05bc87219f122414aa639d9ea68f8e2d35c7b4b2c4"
  "$RUSTBOOK_GIT|$RUSTBOOK_COMMIT|src/ch09-02-recoverable-errors-with-result.md|docs/rust-result-errors.md|dab3e88d324cdde74cf96356c58a423747a5735ac6848d8d4592dc7c13637c62"
  "$RUSTBOOK_GIT|$RUSTBOOK_COMMIT|src/ch10-02-traits.md|docs/rust-traits.md|705ae11758c687175e47104a302a9b5f694d04d683bffc28dcc61ffe9a0dc80e"
  "$RUSTBOOK_GIT|$RUSTBOOK_COMMIT|src/ch11-01-writing-tests.md|docs/rust-writing-tests.md|03cec10df505d25d37717447f906d392506c18f4af1ba7ef9cc32f05cfc15359"
  "$RUSTBOOK_GIT|$RUSTBOOK_COMMIT|src/ch03-02-data-types.md|docs/rust-data-types.md|edd88c0a5be94e0b804d01121bab8d70f6732d75bfc988052d855e8b44920a90"
  "$BORG_GIT|$BORG_COMMIT|docs/faq.rst|docs/borg-faq.txt|3080d397fd9b76cfcb7257fff6468c0775e8ba5ac8d77b2c438b02844ec4e0df"
  "$BORG_GIT|$BORG_COMMIT|docs/quickstart.rst|docs/borg-quickstart.txt|edb4346c02ae4bafba7946ce327de6e46726eabfadcfe4452a2f805b0c4c4bcb"
  "$BORG_GIT|$BORG_COMMIT|docs/internals/security.rst|docs/borg-security.txt|1d512f03df22215786aba121485d39c6af91906826a1879827b5d648f88c060f"
  "$BORG_GIT|$BORG_COMMIT|docs/deployment/pull-backup.rst|docs/borg-pull-backup.txt|d00705952319fc9732ca884f81805e94b0298c54528eaa0b32397f90888c5e39"
  "$TERRAFORM_GIT|$TERRAFORM_COMMIT|docs/planning-behaviors.md|docs/terraform-planning-behaviors.md|3f83156a64bec7b3f571e8be6573286b7ef54cb5862b698bd8894c184d0073eb"
  "$TERRAFORM_GIT|$TERRAFORM_COMMIT|docs/destroying.md|docs/terraform-destroying.md|ee4d46acf1ba0a2642b78a28f9bf4de2a227da55663df65cdcc9976c4e108b5a"
  "$MKDOCS_GIT|$MKDOCS_COMMIT|docs/user-guide/configuration.md|docs/mkdocs-configuration.md|18ef4f7e72a22b07130a8daa42be00fec836b748419b83d3bd035266e0e6e4fb"
  "$MKDOCS_GIT|$MKDOCS_COMMIT|docs/user-guide/writing-your-docs.md|docs/mkdocs-writing-your-docs.md|a6b69d1318ae84455bae021b6655b71274f29c19ba43d021d872d100b7b38cba"
  "$MKDOCS_GIT|$MKDOCS_COMMIT|docs/user-guide/deploying-your-docs.md|docs/mkdocs-deploying.md|f18c58d56a1e4b0cf5ebf5b6d55f4985af544b63803deae305a5f8ba1fffb390"
  "$MKDOCS_GIT|$MKDOCS_COMMIT|docs/dev-guide/plugins.md|docs/mkdocs-plugins.md|c6f985b10e432c31fdbca36ee9f569b2b860dcee1c94be1847257325f546b97b"
  "$FISH_GIT|$FISH_COMMIT|doc_src/faq.rst|docs/fish-faq.txt|575559863cc5e489391fe1e528298e1fc715418ca0d71b0ca2809de416cb208d"
  "$FISH_GIT|$FISH_COMMIT|doc_src/fish_for_bash_users.rst|docs/fish-for-bash-users.txt|429ecc23a85b5515216199e071b01f702be8eb5a62401f6334f87b126e84d096"
  "$PYTEST_GIT|$PYTEST_COMMIT|doc/en/how-to/skipping.rst|docs/pytest-skipping.txt|cf50666558484d189edab4b8a9fe5e72689fef074d97c5b4aa1a6a2dd63ee05a"
  "$PYTEST_GIT|$PYTEST_COMMIT|doc/en/how-to/monkeypatch.rst|docs/pytest-monkeypatch.txt|633cd38c7964bfda5d0da796557a0d94b355a6ea3eb1ae760cb520d9194c3667"
  "$PYTEST_GIT|$PYTEST_COMMIT|doc/en/how-to/cache.rst|docs/pytest-cache.txt|c7206a15b91ad4303e6ee7dc9517ed53aefbfdd0e0fca09cdf7d1322bb6e9161"
  "$PYTEST_GIT|$PYTEST_COMMIT|doc/en/how-to/capture-warnings.rst|docs/pytest-capture-warnings.txt|c90d204692d280ca7092becb977b986c54c9284d3d13e4cc452ad6f53e46da4f"
  "$PYTEST_GIT|$PYTEST_COMMIT|doc/en/explanation/goodpractices.rst|docs/pytest-goodpractices.txt|61171bcebebc0d890f713538485841ec6048c9fa005cd7d8ecd3cf9b6a5ad627"
  "$PYTEST_GIT|$PYTEST_COMMIT|doc/en/reference/fixtures.rst|docs/pytest-fixtures.txt|393beed529d52e4c96e79aaca1d617e90657aea437ac0b693187ca99127da652"
  "$LOKI_GIT|$LOKI_COMMIT|docs/sources/get-started/labels/_index.md|docs/loki-labels.md|8197ebcc7fddad1938d3b3bdb6aac454bf307b8552eeb2f8136cecd0bd5d4406"
  "$LOKI_GIT|$LOKI_COMMIT|docs/sources/operations/storage/retention.md|docs/loki-retention.md|e333f326f78250ba534e3cbff1234b8e972033dee7b71db61d8d524fb4e42cb8"
  "$LOKI_GIT|$LOKI_COMMIT|docs/sources/operations/storage/wal.md|docs/loki-wal.md|ac3d95ba8eee89423bbddc2807b9003d1647720f0e3e5dc7c3f0461d790dd0e6"
  "$LOKI_GIT|$LOKI_COMMIT|docs/sources/operations/caching.md|docs/loki-caching.md|fbfee4cf469cc0d33f034cecb34b7845235f0153f0691da4a40351121ee881e0"
  "$LOKI_GIT|$LOKI_COMMIT|docs/sources/operations/request-validation-rate-limits.md|docs/loki-rate-limits.md|28fbadd9e69cd70d1d6c76a2daedf59102200e568480638c511d7a7cc91e633a"
  "$LOKI_GIT|$LOKI_COMMIT|docs/sources/get-started/components.md|docs/loki-components.md|fbf2c5f27e3e3087925d64a76ff41b898bdb0a4745c9414da4cc040c7c9c48d5"
  "$ANSIBLE_GIT|$ANSIBLE_COMMIT|docs/docsite/rst/playbook_guide/playbooks_variables.rst|docs/ansible-variables.txt|32feab64c57fe15b92ba6c69d9ec1b359675a9bda3d6a5138ea391a41236eb6e"
  "$ANSIBLE_GIT|$ANSIBLE_COMMIT|docs/docsite/rst/playbook_guide/playbooks_conditionals.rst|docs/ansible-conditionals.txt|0b0510cd4a043acf82789f87339e1fbd9ac66c63bd92011a62145e1f3cff76a8"
  "$ANSIBLE_GIT|$ANSIBLE_COMMIT|docs/docsite/rst/playbook_guide/playbooks_loops.rst|docs/ansible-loops.txt|8500759316ef8ef9edfc329de009aaa599f98d4d525d8ab9b2eaf0ff741303df"
  "$ANSIBLE_GIT|$ANSIBLE_COMMIT|docs/docsite/rst/playbook_guide/playbooks_error_handling.rst|docs/ansible-error-handling.txt|8f610e8c7cc0e8c115f34998a58a866c6bf603ef884eb7c6df48c3ee88bd9ea3"
  "$ANSIBLE_GIT|$ANSIBLE_COMMIT|docs/docsite/rst/playbook_guide/playbooks_handlers.rst|docs/ansible-handlers.txt|426b144687f13dae1ad4b8481a8045cfd6a6bd6c3d6a5a5776368518d1c8a357"
  "$ANSIBLE_GIT|$ANSIBLE_COMMIT|docs/docsite/rst/vault_guide/vault_encrypting_content.rst|docs/ansible-vault-encrypting.txt|8d0bebed33f68c3db08031fee601c54defe95b1be070e5190415f75c1ddceaec"
  "$ANSIBLE_GIT|$ANSIBLE_COMMIT|docs/docsite/rst/inventory_guide/intro_inventory.rst|docs/ansible-inventory.txt|54579f058cc2633a46c80ad85ff05bd01f0f075ea1889a24a4758acb8d81df56"
)

failed=0
fetch_files "$TARGET" "${FILES[@]}" || failed=1
fetch_files "$SHORTLISTS" "${ROUND2_FILES[@]}" || failed=1
cp "$HERE/questions.jsonl" "$TARGET/technical_qa/questions.jsonl"
# The listwise stage's folder: both rounds' questions over all 89 documents, ingested into one store.
cp "$TARGET"/technical_qa/docs/* "$SHORTLISTS/docs/"
cat "$HERE/questions.jsonl" "$HERE/questions_round2.jsonl" > "$SHORTLISTS/questions.jsonl"
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
