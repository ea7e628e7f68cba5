#!/bin/bash
# The pod's entrypoint: the lab broker as root (the pod's labs, fenced per uid as on one
# server), then the student's server as uid 1000 with no capabilities at all. When the pod
# stops, Kubernetes ends both, and the pod's namespaces and processes go with it.
set -euo pipefail
# --no-cgroups: the pod is this one student's, and the pod's cgroup (its memory and CPU
# limits below) is the limit; the host's cgroup tree is read-only in a pod.
labkit broker --labs "${LABKIT_LABS:-2}" --nodes "${LABKIT_NODES:-40}" --no-cgroups &
for _ in $(seq 100); do [ -S /run/labkit/broker.sock ] && break; sleep 0.1; done
exec setpriv --reuid=1000 --regid=1000 --init-groups --no-new-privs \
    --inh-caps=-all --ambient-caps=-all --bounding-set=-all -- "$@"
