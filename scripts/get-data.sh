#!/usr/bin/env bash
# Make Fashion-MNIST available offline: Debian's dataset-fashion-mnist package puts the raw
# *-ubyte.gz files under /usr/share/datasets/fashion-mnist. Installs it when we are root and it is
# missing; otherwise says how to provide the data (the pipeline's data rule fails with the same advice).
set -euo pipefail
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
