//! Integration tests against a real control plane (etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler, KWOK nodes) started by
//! `voice_tests::cluster`. Build the binaries first with
//! `scripts/control-plane/build`.

mod custom;
mod sanity;
