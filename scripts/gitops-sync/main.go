// Command gitops-sync applies a directory of manifests to a cluster with Argo CD's GitOps
// engine (github.com/argoproj/gitops-engine), driven the way Argo CD's application
// controller drives it: each step rebuilds the sync context from the engine's live cluster
// cache and carries the operation's state over (sync.WithInitialState), so the engine's own
// phases, sync waves, hooks, hook delete policies and health checks decide what is applied
// when. It exits 0 once the sync operation succeeds, 1 when it fails or times out.
//
// The engine's agent (agent/main.go) keeps one sync context for a whole operation, built
// from a snapshot of the live state taken before the sync: an object the sync creates never
// gets a live state in it, so a sync with several waves waits forever on the first wave that
// creates anything.
//
// Usage: gitops-sync --kubeconfig FILE [--timeout 10m] DIR
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/argoproj/gitops-engine/pkg/cache"
	"github.com/argoproj/gitops-engine/pkg/sync"
	"github.com/argoproj/gitops-engine/pkg/sync/common"
	"github.com/argoproj/gitops-engine/pkg/utils/kube"
	"github.com/argoproj/gitops-engine/pkg/utils/tracing"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2/klogr"
)

// treeMark marks the objects of this tree, so that objects which leave it are pruned.
const treeMark = "gitops-sync.kubectl-voice.io/tree"

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the cluster")
	timeout := flag.Duration("timeout", 10*time.Minute, "deadline of the whole sync")
	flag.Parse()
	if flag.NArg() != 1 || *kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "usage: gitops-sync --kubeconfig FILE [--timeout 10m] DIR")
		os.Exit(2)
	}
	if err := run(*kubeconfig, flag.Arg(0), *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "gitops-sync:", err)
		os.Exit(1)
	}
}

func run(kubeconfig, dir string, timeout time.Duration) error {
	log := klogr.New()
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	targets, revision, tree, err := manifests(dir)
	if err != nil {
		return err
	}
	mark := func(un *unstructured.Unstructured) string { return un.GetAnnotations()[treeMark] }
	clusterCache := cache.NewClusterCache(config,
		cache.SetLogr(log),
		cache.SetPopulateResourceInfoHandler(func(un *unstructured.Unstructured, _ bool) (interface{}, bool) {
			return mark(un), mark(un) != ""
		}),
	)
	if err := clusterCache.EnsureSynced(); err != nil {
		return err
	}
	defer clusterCache.Invalidate()
	kubectl := &kube.KubectlCmd{Log: log, Tracer: tracing.NopTracer{}}
	isManaged := func(r *cache.Resource) bool { return r.Info == tree }

	// The operation's state between steps, as Argo CD keeps it in the Application.
	var (
		phase     common.OperationPhase
		message   string
		results   []common.ResourceSyncResult
		startedAt = metav1.Now()
		deadline  = time.Now().Add(timeout)
	)
	for {
		live, err := clusterCache.GetManagedLiveObjs(targets, isManaged)
		if err != nil {
			return err
		}
		reconciled := sync.Reconcile(targets, live, "default", clusterCache)
		syncCtx, cleanup, err := sync.NewSyncContext(revision, reconciled, config, config, kubectl,
			"default", clusterCache.GetOpenAPISchema(),
			sync.WithLogr(log),
			sync.WithPrune(true),
			sync.WithInitialState(phase, message, results, startedAt),
		)
		if err != nil {
			return err
		}
		syncCtx.Sync()
		next, nextMessage, nextResults := syncCtx.GetState()
		cleanup()
		if next != phase || nextMessage != message {
			fmt.Printf("%s %s: %s\n", time.Now().UTC().Format(time.RFC3339), next, nextMessage)
		}
		phase, message, results = next, nextMessage, nextResults
		if phase.Completed() {
			for _, r := range results {
				fmt.Printf("%s\t%s\t%s\t%s\n", r.ResourceKey.String(), r.SyncPhase, r.HookPhase, r.Message)
			}
			if phase != common.OperationSucceeded {
				return fmt.Errorf("sync %s: %s", phase, message)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sync still %s after %s: %s", phase, timeout, message)
		}
		// Argo CD pauses between waves (ARGOCD_SYNC_WAVE_DELAY, 2 s) and re-reads the
		// operation when the cache changes; a fixed second does for a test.
		time.Sleep(time.Second)
	}
}

// manifests reads every .yaml, .yml and .json file under dir and returns the objects with
// a revision (the digest of their text) and the tree's mark (the digest of dir's path),
// which every object carries.
func manifests(dir string) ([]*unstructured.Unstructured, string, string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, "", "", err
	}
	sum := sha256.Sum256([]byte(abs))
	tree := hex.EncodeToString(sum[:])
	var files []string
	err = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			if !info.IsDir() {
				files = append(files, path)
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", "", err
	}
	sort.Strings(files)
	digest := sha256.New()
	var objects []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, "", "", err
		}
		digest.Write(data)
		items, err := kube.SplitYAML(data)
		if err != nil {
			return nil, "", "", fmt.Errorf("%s: %w", f, err)
		}
		objects = append(objects, items...)
	}
	for _, o := range objects {
		a := o.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a[treeMark] = tree
		o.SetAnnotations(a)
	}
	return objects, hex.EncodeToString(digest.Sum(nil)), tree, nil
}
