//go:build cluster

package clustertest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
)

// binDir holds nats-server and tokend, built once by TestMain.
var binDir string

// TestMain builds nats-server at the version go.mod requires (inside this
// module, from the module cache or the Go module proxy) and tokend, the way
// deploy/local-cluster.sh does.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tokend-clustertest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := func() int {
		start := time.Now()
		for _, b := range [][]string{
			{"build", "-o", filepath.Join(dir, "nats-server"), "github.com/nats-io/nats-server/v2"},
			{"build", "-o", filepath.Join(dir, "tokend"), "./cmd/tokend"},
		} {
			cmd := exec.Command(goTool(), b...)
			cmd.Dir = "../.."
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "go %s: %v\n", strings.Join(b, " "), err)
				return 1
			}
		}
		fmt.Fprintf(os.Stderr, "built nats-server and tokend in %s\n", time.Since(start).Round(time.Millisecond))
		return m.Run()
	}()
	os.RemoveAll(dir)
	os.Exit(code)
}

func goTool() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

// spawnCh feeds the one goroutine that starts every subprocess. It stays
// locked to its OS thread for the life of the test binary: Pdeathsig fires
// when the thread that forked the child exits, not the process, and the Go
// runtime may end threads; a child started from an ordinary goroutine could
// be killed in the middle of the test.
var spawnCh = func() chan spawnReq {
	ch := make(chan spawnReq)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread lives as long as the binary
		for r := range ch {
			r.done <- r.cmd.Start()
		}
	}()
	return ch
}()

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

func spawn(cmd *exec.Cmd) error {
	done := make(chan error)
	spawnCh <- spawnReq{cmd, done}
	return <-done
}

// proc is one subprocess. Its output goes to a log file; it is killed with
// SIGKILL when the test ends, whatever the outcome, and, through
// Pdeathsig, when the test binary dies.
type proc struct {
	name    string
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

func startProc(t *testing.T, name, logPath string, env []string, bin string, args ...string) *proc {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := spawn(cmd); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, exited: make(chan struct{}), logPath: logPath}
	go func() { cmd.Wait(); f.Close(); close(p.exited) }()
	t.Cleanup(p.kill)
	return p
}

func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL (which ends a stopped process too) and waits for the
// process to be gone. It is idempotent.
func (p *proc) kill() {
	if p == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

func (p *proc) signal(sig syscall.Signal) { p.cmd.Process.Signal(sig) }

// tail returns the last n lines of the process's log.
func (p *proc) tail(n int) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// node is one nats-server of the cluster, on ports that stay the same
// across restarts.
type node struct {
	name                   string
	client, route, monitor int
	store                  string
	p                      *proc
}

func (n *node) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.client) }

// replica is one tokend.
type replica struct {
	name    string
	addr    string
	dataDir string
	p       *proc
}

func (r *replica) url() string { return "http://" + r.addr }

// cluster is three nats-server nodes and two tokend replicas.
type cluster struct {
	t        *testing.T
	dir      string
	nodes    []*node
	replicas []*replica
	license  string

	mu       sync.Mutex
	restarts []string // supervised restarts of tokend not yet reported
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	license, err := domain.NewSecret(domain.LicensePrefix)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if keep := os.Getenv("CLUSTERTEST_DIR"); keep != "" {
		// Kept after the test, for its logs: stores, read models, logs.
		if err := os.MkdirAll(keep, 0o755); err != nil {
			t.Fatal(err)
		}
		if dir, err = os.MkdirTemp(keep, "run-"); err != nil {
			t.Fatal(err)
		}
		t.Logf("cluster directory: %s", dir)
	}
	c := &cluster{t: t, dir: dir, license: license}
	for i := 1; i <= 3; i++ {
		n := &node{name: fmt.Sprintf("n%d", i), client: freePort(t), route: freePort(t), monitor: freePort(t)}
		n.store = filepath.Join(c.dir, n.name)
		c.nodes = append(c.nodes, n)
	}
	for i := 1; i <= 2; i++ {
		r := &replica{name: fmt.Sprintf("r%d", i), addr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
		r.dataDir = filepath.Join(c.dir, r.name)
		c.replicas = append(c.replicas, r)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.nodes {
				if n.p != nil {
					t.Logf("--- %s log (end):\n%s", n.name, n.p.tail(40))
				}
			}
			for _, r := range c.replicas {
				if r.p != nil {
					t.Logf("--- tokend %s log (end):\n%s", r.name, r.p.tail(40))
				}
			}
		}
	})
	return c
}

func (c *cluster) natsURLs() string {
	var urls []string
	for _, n := range c.nodes {
		urls = append(urls, n.url())
	}
	return strings.Join(urls, ",")
}

// startNode starts node i from deploy/cluster/<name>.conf, the file
// local-cluster.sh uses, with its ports moved to free ones.
func (c *cluster) startNode(i int) {
	c.t.Helper()
	n := c.nodes[i]
	var routes []string
	for _, o := range c.nodes {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", o.route))
	}
	conf, err := filepath.Abs(filepath.Join("..", "cluster", n.name+".conf"))
	if err != nil {
		c.t.Fatal(err)
	}
	n.p = startProc(c.t, n.name, filepath.Join(c.dir, n.name+".log"), []string{"NATS_STORE_DIR=" + n.store},
		filepath.Join(binDir, "nats-server"), "-c", conf,
		"-p", fmt.Sprint(n.client), "-m", fmt.Sprint(n.monitor),
		"--cluster", fmt.Sprintf("nats://127.0.0.1:%d", n.route), "--routes", strings.Join(routes, ","))
}

// nodeHealthy reports whether the node's /healthz answers 200: it serves
// clients, and its JetStream (meta group and stream replicas) is current.
func (c *cluster) nodeHealthy(i int) bool {
	hc := http.Client{Timeout: time.Second}
	resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", c.nodes[i].monitor))
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitNodesHealthy waits until every node in idx is healthy and returns how long it took.
func (c *cluster) waitNodesHealthy(timeout time.Duration, idx ...int) time.Duration {
	c.t.Helper()
	start := time.Now()
	for {
		all := true
		for _, i := range idx {
			if !c.nodes[i].p.running() {
				c.t.Fatalf("nats %s exited:\n%s", c.nodes[i].name, c.nodes[i].p.tail(30))
			}
			if !c.nodeHealthy(i) {
				all = false
			}
		}
		if all {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			c.t.Fatalf("nats nodes %v not healthy after %s", idx, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startReplica starts tokend replica i against the three nodes, with
// streams at replicas 3 and the admin license of the default account.
func (c *cluster) startReplica(i int) {
	c.t.Helper()
	r := c.replicas[i]
	urls := c.natsURLs()
	r.p = startProc(c.t, "tokend "+r.name, filepath.Join(c.dir, "tokend-"+r.name+".log"),
		[]string{"TOKEND_ADMIN_LICENSE=" + c.license},
		filepath.Join(binDir, "tokend"), "serve",
		"--nats-url", urls, "--replicas", "3",
		"--data-dir", r.dataDir, "--http", r.addr, "--rate-limit", "off")
}

func (c *cluster) replicaReady(i int) bool {
	hc := http.Client{Timeout: time.Second}
	resp, err := hc.Get(c.replicas[i].url() + "/readyz")
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitReplicaReady waits until replica i answers /readyz with 200 and
// returns how long it took. A tokend that exits before it is ready is
// started again after a second, at most five times, as systemd does with
// deploy/systemd/tokend.service (Restart=on-failure, RestartSec=1); each
// such restart is counted, with the reason tokend gave, for the report.
func (c *cluster) waitReplicaReady(i int, timeout time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	restarts := 0
	for !c.replicaReady(i) {
		r := c.replicas[i]
		if !r.p.running() {
			why := lastLine(r.p.tail(1))
			if restarts++; restarts > 5 {
				c.t.Fatalf("tokend %s exited five times before it was ready:\n%s", r.name, r.p.tail(30))
			}
			c.mu.Lock()
			c.restarts = append(c.restarts, fmt.Sprintf("%s: %s", r.name, why))
			c.mu.Unlock()
			c.t.Logf("tokend %s exited before it was ready (%s); starting it again in 1 s", r.name, why)
			time.Sleep(time.Second)
			c.startReplica(i)
			continue
		}
		if time.Since(start) > timeout {
			c.t.Fatalf("tokend %s not ready after %s:\n%s", r.name, timeout, r.p.tail(30))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

// takeRestarts returns the supervised restarts since the last call.
func (c *cluster) takeRestarts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.restarts
	c.restarts = nil
	return r
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// start brings the whole cluster up: the three nodes, then the replicas one
// after the other (the first creates the streams and the default account).
func (c *cluster) start() time.Duration {
	c.t.Helper()
	start := time.Now()
	for i := range c.nodes {
		c.startNode(i)
	}
	c.waitNodesHealthy(60*time.Second, 0, 1, 2)
	for i := range c.replicas {
		c.startReplica(i)
		c.waitReplicaReady(i, 90*time.Second)
		// The first replica has just created the streams. Until their
		// replicas are current a direct get may find no responders, and a
		// tokend that meets that while it bootstraps exits
		// (TestStartRightAfterStreamCreation): let the nodes settle first.
		c.waitNodesHealthy(60*time.Second, 0, 1, 2)
	}
	return time.Since(start)
}

// connect dials the given nodes (all when none is given) for the test's own
// look at the streams.
func (c *cluster) connect(idx ...int) (*nats.Conn, jetstream.JetStream) {
	c.t.Helper()
	if len(idx) == 0 {
		idx = []int{0, 1, 2}
	}
	var urls []string
	for _, i := range idx {
		urls = append(urls, c.nodes[i].url())
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.Name("clustertest"), nats.Timeout(2*time.Second))
	if err != nil {
		c.t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatal(err)
	}
	return nc, js
}

// streamLeader returns the index of the node that leads TOKEN_EVENTS,
// asking only the nodes in idx (all when none is given).
func (c *cluster) streamLeader(idx ...int) (int, error) {
	nc, js := c.connect(idx...)
	defer nc.Close()
	// Short: while a stream has no leader its info request is not answered,
	// and waitLeader polls.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	st, err := js.Stream(ctx, natsjs.EventsStream)
	if err != nil {
		return -1, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return -1, err
	}
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return -1, fmt.Errorf("%s has no leader", natsjs.EventsStream)
	}
	for i, n := range c.nodes {
		if n.name == info.Cluster.Leader {
			return i, nil
		}
	}
	return -1, fmt.Errorf("leader %q is none of ours", info.Cluster.Leader)
}

// waitLeader waits until one of the nodes in idx leads TOKEN_EVENTS and
// returns its index.
func (c *cluster) waitLeader(timeout time.Duration, idx ...int) int {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		l, err := c.streamLeader(idx...)
		if err == nil && (len(idx) == 0 || contains(idx, l)) {
			return l
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no leader of %s among %v after %s: %v", natsjs.EventsStream, idx, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tokendConnections returns, for each node, how many tokend clients are
// connected to it (monitoring /connz).
func (c *cluster) tokendConnections() map[string]int {
	out := map[string]int{}
	hc := http.Client{Timeout: time.Second}
	for _, n := range c.nodes {
		resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/connz", n.monitor))
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out[n.name] = strings.Count(string(b), `"name": "tokend"`)
	}
	return out
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// lockedLog collects lines for the report printed at the end.
type lockedLog struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

func (l *lockedLog) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := fmt.Sprintf(format, args...)
	l.lines = append(l.lines, line)
	if l.t != nil {
		l.t.Log(line) // as it happens, so that a failed run shows how far it got
	}
}
