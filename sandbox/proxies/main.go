// sandbox-proxies: simulated sidecars for the sandbox. One ADS stream per pod to a real istiod,
// with the node id and metadata a real istio-proxy sends, so istiod's sync status lists them.
//
// Per pod, the mode decides what happens to every response istiod sends:
//
//	synced  ACK it (and subscribe EDS/RDS for the clusters and routes it names, as Envoy does)
//	stale   never acknowledge it
//	error   NACK it with an error detail
//
// Usage: sandbox-proxies --config proxies.json   (see the Config type; written by python -m sandbox proxies up)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"
)

const (
	typeCluster  = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	typeListener = "type.googleapis.com/envoy.config.listener.v3.Listener"
	typeEndpoint = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
	typeRoute    = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
)

var version = "dev"

// Pod is one simulated sidecar.
type Pod struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	IP        string            `json:"ip"`
	Labels    map[string]string `json:"labels"`
	Mode      string            `json:"mode"` // synced, stale or error
}

// Config is the file python -m sandbox proxies up writes.
type Config struct {
	Istiod       string `json:"istiod"` // host:port of istiod's plaintext gRPC (15010)
	ClusterID    string `json:"cluster_id"`
	IstioVersion string `json:"istio_version"`
	Pods         []Pod  `json:"pods"`
}

func main() {
	configPath := flag.String("config", "", "JSON file with istiod's address and the pods")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println("sandbox-proxies", version)
		return
	}
	cfg, err := load(*configPath)
	if err != nil {
		log.Fatalf("sandbox-proxies: %v", err)
	}
	if !strings.HasPrefix(cfg.Istiod, "127.0.0.1:") && !strings.HasPrefix(cfg.Istiod, "localhost:") {
		log.Fatalf("sandbox-proxies: istiod address %q is not on 127.0.0.1; the sandbox talks to local processes only", cfg.Istiod)
	}
	conn, err := grpc.NewClient(cfg.Istiod, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		log.Fatalf("sandbox-proxies: %v", err)
	}
	defer conn.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	counts := map[string]int{}
	var wg sync.WaitGroup
	for _, pod := range cfg.Pods {
		counts[pod.Mode]++
		wg.Add(1)
		go func(p Pod) {
			defer wg.Done()
			runPod(ctx, conn, cfg, p)
		}(pod)
	}
	log.Printf("sandbox-proxies %s: %d streams to %s %v", version, len(cfg.Pods), cfg.Istiod, counts)
	wg.Wait()
	log.Printf("sandbox-proxies: stopped")
}

func load(path string) (*Config, error) {
	if path == "" {
		return nil, fmt.Errorf("--config is required")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg := &Config{}
	if err := json.Unmarshal(raw, cfg); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	for _, p := range cfg.Pods {
		switch p.Mode {
		case "synced", "stale", "error":
		default:
			return nil, fmt.Errorf("pod %s.%s: mode %q is not synced, stale or error", p.Name, p.Namespace, p.Mode)
		}
		if p.IP == "" {
			return nil, fmt.Errorf("pod %s.%s has no IP", p.Name, p.Namespace)
		}
	}
	return cfg, nil
}

// node is what a real istio-proxy sends: the sidecar node id and the metadata istiod reads.
func node(cfg *Config, p Pod) (*core.Node, error) {
	labels := map[string]any{}
	for k, v := range p.Labels {
		labels[k] = v
	}
	workload := p.Labels["app"]
	if workload == "" {
		workload = p.Name
	}
	meta, err := structpb.NewStruct(map[string]any{
		"NAME":          p.Name,
		"NAMESPACE":     p.Namespace,
		"CLUSTER_ID":    cfg.ClusterID,
		"ISTIO_VERSION": cfg.IstioVersion,
		"LABELS":        labels,
		"INSTANCE_IPS":  p.IP,
		"WORKLOAD_NAME": workload,
		"MESH_ID":       "cluster.local",
		"PROXY_CONFIG": map[string]any{
			"configPath":       "./etc/istio/proxy",
			"binaryPath":       "/usr/local/bin/envoy",
			"discoveryAddress": "istiod.istio-system.svc:15012",
			"proxyAdminPort":   15000,
			"statusPort":       15020,
		},
	})
	if err != nil {
		return nil, err
	}
	return &core.Node{
		Id:                   fmt.Sprintf("sidecar~%s~%s.%s~%s.svc.cluster.local", p.IP, p.Name, p.Namespace, p.Namespace),
		Cluster:              workload + "." + p.Namespace,
		Metadata:             meta,
		UserAgentName:        "envoy",
		UserAgentVersionType: &core.Node_UserAgentVersion{UserAgentVersion: "sandbox-" + version},
	}, nil
}

// runPod keeps one stream open for the pod, reconnecting with backoff while istiod is away.
func runPod(ctx context.Context, conn *grpc.ClientConn, cfg *Config, p Pod) {
	n, err := node(cfg, p)
	if err != nil {
		log.Printf("%s.%s: %v", p.Name, p.Namespace, err)
		return
	}
	backoff := time.Second
	for ctx.Err() == nil {
		started := time.Now()
		err := stream(ctx, conn, n, p)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > 30*time.Second {
			backoff = time.Second
		}
		log.Printf("%s.%s: stream ended (%v); reconnecting in %s", p.Name, p.Namespace, err, backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff < 8*time.Second {
			backoff *= 2
		}
	}
}

type typeState struct {
	version, nonce string // of the last response acknowledged (or, for stale/error, received)
	names          []string
}

func stream(ctx context.Context, conn *grpc.ClientConn, n *core.Node, p Pod) error {
	ads, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return err
	}
	states := map[string]*typeState{}
	send := func(req *discovery.DiscoveryRequest) error {
		req.Node = n
		return ads.Send(req)
	}
	// Envoy subscribes clusters and listeners first (wildcard), then the endpoints and routes they name.
	for _, t := range []string{typeCluster, typeListener} {
		states[t] = &typeState{}
		if err := send(&discovery.DiscoveryRequest{TypeUrl: t}); err != nil {
			return err
		}
	}
	first := true
	for {
		resp, err := ads.Recv()
		if err != nil {
			return err
		}
		if first {
			log.Printf("%s.%s: connected (%s)", p.Name, p.Namespace, p.Mode)
			first = false
		}
		st := states[resp.TypeUrl]
		if st == nil {
			st = &typeState{}
			states[resp.TypeUrl] = st
		}
		switch p.Mode {
		case "stale":
			continue // never acknowledge: istiod sees the nonce sent but not acked
		case "error":
			if err := send(&discovery.DiscoveryRequest{
				TypeUrl: resp.TypeUrl, VersionInfo: st.version, ResponseNonce: resp.Nonce, ResourceNames: st.names,
				ErrorDetail: &rpcstatus.Status{Code: int32(codes.InvalidArgument),
					Message: fmt.Sprintf("sandbox: %s rejected by simulated proxy %s.%s", shortType(resp.TypeUrl), p.Name, p.Namespace)},
			}); err != nil {
				return err
			}
			continue
		}
		st.version, st.nonce = resp.VersionInfo, resp.Nonce
		if err := send(&discovery.DiscoveryRequest{
			TypeUrl: resp.TypeUrl, VersionInfo: st.version, ResponseNonce: st.nonce, ResourceNames: st.names,
		}); err != nil {
			return err
		}
		var follow string
		var names []string
		switch resp.TypeUrl {
		case typeCluster:
			follow, names = typeEndpoint, edsNames(resp)
		case typeListener:
			follow, names = typeRoute, routeNames(resp)
		default:
			continue
		}
		fs := states[follow]
		if fs == nil {
			fs = &typeState{}
			states[follow] = fs
		}
		if len(names) == 0 || equal(names, fs.names) {
			continue
		}
		fs.names = names
		if err := send(&discovery.DiscoveryRequest{
			TypeUrl: follow, VersionInfo: fs.version, ResponseNonce: fs.nonce, ResourceNames: names,
		}); err != nil {
			return err
		}
	}
}

func edsNames(resp *discovery.DiscoveryResponse) []string {
	var names []string
	for _, res := range resp.Resources {
		c := &cluster.Cluster{}
		if res.UnmarshalTo(c) != nil || c.GetType() != cluster.Cluster_EDS {
			continue
		}
		name := c.GetEdsClusterConfig().GetServiceName()
		if name == "" {
			name = c.Name
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func routeNames(resp *discovery.DiscoveryResponse) []string {
	set := map[string]bool{}
	for _, res := range resp.Resources {
		l := &listener.Listener{}
		if res.UnmarshalTo(l) != nil {
			continue
		}
		chains := l.FilterChains
		if l.DefaultFilterChain != nil {
			chains = append(chains, l.DefaultFilterChain)
		}
		for _, fc := range chains {
			for _, f := range fc.Filters {
				m := &hcm.HttpConnectionManager{}
				if f.GetTypedConfig() == nil || f.GetTypedConfig().UnmarshalTo(m) != nil {
					continue
				}
				if name := m.GetRds().GetRouteConfigName(); name != "" {
					set[name] = true
				}
			}
		}
	}
	names := make([]string, 0, len(set))
	for name := range set {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func shortType(t string) string {
	switch t {
	case typeCluster:
		return "CDS"
	case typeListener:
		return "LDS"
	case typeEndpoint:
		return "EDS"
	case typeRoute:
		return "RDS"
	}
	return t
}
