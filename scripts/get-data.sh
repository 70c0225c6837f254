#!/usr/bin/env bash
# Make datasets available offline.
#   scripts/get-data.sh                  Fashion-MNIST (the default experiment's): Debian's dataset-fashion-mnist
#                                        package puts the raw *-ubyte.gz files under /usr/share/datasets/fashion-mnist.
#                                        Installs it when we are root and it is missing; otherwise says how to
#                                        provide the data (the pipeline fails with the same advice).
#   scripts/get-data.sh ROOT NAME...     downloads each NAME (mnist, fashion_mnist, cifar10, cifar100) into ROOT in
#                                        torchvision's layout (on a machine with internet); then set `data_root: ROOT`.
set -euo pipefail
if [ $# -gt 0 ]; then
    [ $# -ge 2 ] || { echo "usage: $0 [ROOT NAME...]" >&2; exit 2; }
    python="${PYTHON:-$(dirname "$0")/../.venv/bin/python}"
    exec "$python" - "$@" <<'EOF'
import sys

from starlight.data import DataError, dataset

root, names = sys.argv[1], sys.argv[2:]
for name in names:
    try:
        entry = dataset(name)
        if not entry.materialised:
            raise DataError(entry.how_to_provide)
        entry.stage(root, None, allow_download=True)
    except DataError as err:
        sys.exit(f"{name}: {err}")
    print(f"{name}: in {root}")
EOF
fi
dir=/usr/share/datasets/fashion-mnist
if [ -f "$dir/train-images-idx3-ubyte.gz" ] && [ -f "$dir/t10k-labels-idx1-ubyte.gz" ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's dataset-fashion-mnist"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends dataset-fashion-mnist >/dev/null 2>&1 || {
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends dataset-fashion-mnist >/dev/null
    }
    exit 0
fi
echo "Fashion-MNIST not found under $dir. Install it (sudo apt-get install dataset-fashion-mnist)," >&2
echo "or set data_root in config/config.yaml to a folder holding the four *-ubyte[.gz] files." >&2
