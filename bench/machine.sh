# Sourced by the bench scripts: the machine a result was recorded on, e.g. "2 cores, 24 GiB, Linux 6.1.0-18-amd64".
machine() {
    echo "$(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr)"
}
