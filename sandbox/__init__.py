"""Local Kubernetes sandbox: etcd, kube-apiserver, controller-manager, scheduler, kwok and istiod as loopback processes."""
