package nook_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"nook.dev/nook"
)

// exampleConfig is the repository's example bundle; tests copy it.
const exampleConfig = "../../examples/hello/config.json"

// newBundle writes a copy of examples/hello whose process runs args into a
// temporary directory, with an empty rootfs.
func newBundle(t *testing.T, args ...string) string {
	t.Helper()
	raw, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	spec["process"].(map[string]any)["args"] = args
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newContext opens a state root in a temporary directory and, at cleanup,
// checks that nothing was left behind under it or in the bundles.
func newContext(t *testing.T, watch ...string) *nook.Context {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	root := filepath.Join(t.TempDir(), "state")
	ctx, err := nook.NewContext(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer ctx.Close()
		assertNothingLeft(t, ctx, append(watch, root)...)
	})
	return ctx
}

// assertNothingLeft checks what the kernel and the file system can see:
// no container state, no mount under the given directories, and no child
// process (running or zombie) of this test process.
func assertNothingLeft(t *testing.T, ctx *nook.Context, dirs ...string) {
	t.Helper()
	if list, err := ctx.List(); err != nil || len(list) != 0 {
		t.Errorf("containers left: %v (err %v)", list, err)
	}
	if ents, err := os.ReadDir(ctx.Root()); err == nil && len(ents) != 0 {
		t.Errorf("state dirs left under %s: %d", ctx.Root(), len(ents))
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mi), "\n") {
		for _, d := range dirs {
			if d != "" && strings.Contains(line, d) {
				t.Errorf("mount left: %s", line)
			}
		}
	}
	if kids := children(t); len(kids) != 0 {
		t.Errorf("child processes left: %v", kids)
	}
}

// children lists the pids whose parent is this process.
func children(t *testing.T) []string {
	t.Helper()
	me := strconv.Itoa(os.Getpid())
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may contain spaces.
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == me {
			out = append(out, e.Name()+"("+f[0]+")")
		}
	}
	return out
}

func TestVersionAndFeatures(t *testing.T) {
	if nook.Version() == "" {
		t.Fatal("empty version")
	}
	raw, err := nook.Features()
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		OCIVersionMax string `json:"ociVersionMax"`
	}
	if err := json.Unmarshal(raw, &f); err != nil || f.OCIVersionMax == "" {
		t.Fatalf("features: %s (%v)", raw, err)
	}
}

func TestLifecycle(t *testing.T) {
	bundle := newBundle(t, "/bin/sh", "-c", "exit 7")
	ctx := newContext(t, bundle)

	c, err := ctx.Create("life", bundle, &nook.CreateOptions{PidFile: filepath.Join(bundle, "pid")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.State()
	if err != nil || st.Status != nook.StatusCreated || st.ID != "life" || st.Pid != c.Pid() || st.Pid <= 0 {
		t.Fatalf("state after create: %+v, %v", st, err)
	}
	if pid, _ := os.ReadFile(filepath.Join(bundle, "pid")); string(pid) != strconv.Itoa(c.Pid()) {
		t.Errorf("pid file %q, pid %d", pid, c.Pid())
	}
	if list, err := ctx.List(); err != nil || len(list) != 1 || list[0].ID != "life" {
		t.Errorf("list: %+v, %v", list, err)
	}
	// A second create with the same id is EEXIST and changes nothing.
	if _, err := ctx.Create("life", bundle, nil); !errors.Is(err, os.ErrExist) {
		t.Errorf("second create: %v", err)
	}
	// Another handle on the same container, from Load.
	c2, err := ctx.Load("life")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("second start: %v", err)
	}
	code, err := c.Wait()
	if err != nil || code != 7 {
		t.Fatalf("wait: %d, %v", code, err)
	}
	if s, err := c.Status(); err != nil || s != nook.StatusStopped {
		t.Errorf("status after wait: %s, %v", s, err)
	}
	if err := c.Kill(syscall.SIGTERM); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("kill of a stopped container: %v", err)
	}
	if err := c.Delete(); err != nil {
		t.Fatal(err)
	}
	_, err = ctx.Load("life")
	var nerr *nook.Error
	if !errors.Is(err, os.ErrNotExist) || !errors.As(err, &nerr) || nerr.Kind != nook.KindNotFound || nerr.Errno != syscall.ENOENT {
		t.Errorf("load after delete: %#v", err)
	}
}

func TestRun(t *testing.T) {
	bundle := newBundle(t, "/bin/sh", "-c", "exit 3")
	ctx := newContext(t, bundle)
	code, err := ctx.Run("run", bundle, nil)
	if err != nil || code != 3 {
		t.Fatalf("run: %d, %v", code, err)
	}
}

func TestKillAndForceDelete(t *testing.T) {
	bundle := newBundle(t, "/bin/sleep", "1000")
	ctx := newContext(t, bundle)
	c, err := ctx.Create("sleeper", bundle, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if s, _ := c.Status(); s != nook.StatusRunning {
		t.Errorf("status: %s", s)
	}
	if err := c.Delete(); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("delete of a running container: %v", err)
	}
	if err := c.Kill(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code, err := c.Wait(); err != nil || code != 128+int(syscall.SIGKILL) {
		t.Errorf("wait: %d, %v", code, err)
	}
	if err := c.Delete(); err != nil {
		t.Fatal(err)
	}

	c, err = ctx.Create("sleeper2", bundle, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.ForceDelete(); err != nil {
		t.Fatal(err)
	}
}

// A container whose state.json is corrupt cannot be loaded, but
// Context.Delete with force kills its init and removes it, as the CLI does.
func TestDeleteByIDWithACorruptState(t *testing.T) {
	bundle := newBundle(t, "/bin/sleep", "1000")
	ctx := newContext(t, bundle)
	c, err := ctx.Create("corrupt", bundle, nil)
	if err != nil {
		t.Fatal(err)
	}
	pid := c.Pid()
	c.Close()
	state := filepath.Join(ctx.Root(), "corrupt", "state.json")
	if err := os.WriteFile(state, []byte(`{"id":"corrupt","pid":`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ctx.Load("corrupt"); err == nil {
		t.Fatal("a corrupt state.json loaded")
	}
	if err := ctx.Delete("corrupt", false); err == nil {
		t.Error("delete without force removed a container it cannot read")
	}
	if err := ctx.Delete("corrupt", true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(state)); !os.IsNotExist(err) {
		t.Errorf("state dir left: %v", err)
	}
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); !strings.Contains(string(b), ") Z ") {
			t.Errorf("init %d still runs after delete --force: %v", pid, err)
		}
	}
	// runc's answers for a container that is not there.
	if err := ctx.Delete("corrupt", false); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("delete of a deleted container: %v", err)
	}
	if err := ctx.Delete("corrupt", true); err != nil {
		t.Errorf("delete --force of a deleted container: %v", err)
	}
}

func TestErrors(t *testing.T) {
	bundle := newBundle(t, "/nonexistent")
	ctx := newContext(t, bundle)
	_, err := ctx.Create("bad id/..", bundle, nil)
	var nerr *nook.Error
	if !errors.As(err, &nerr) || nerr.Errno != syscall.EINVAL {
		t.Errorf("bad id: %#v", err)
	}
	if _, err := ctx.Create("nobundle", filepath.Join(bundle, "missing"), nil); err == nil {
		t.Error("create from a missing bundle succeeded")
	}
	// The program does not exist: create reports it, as runc does, with
	// ENOENT, and keeps no state.
	if _, err := ctx.Create("noprog", bundle, nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("create of a missing program: %v", err)
	}
	if _, err := ctx.Load("noprog"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed create left state: %v", err)
	}
	c, err := ctx.Create("closed", newBundle(t, "/bin/true"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(); err != nil {
		t.Error(err)
	}
	c.Close()
	if err := c.Start(); !errors.Is(err, nook.ErrClosed) {
		t.Errorf("use after close: %v", err)
	}
}

// TestCheckpointRestoreRefusals: what needs no working criu. A container
// that is not running is not checkpointed (EBUSY, no image directory
// made); an image directory that is not a checkpoint is not restored
// (EINVAL, no container). The real dumps are in tests/checkpoint.rs, run
// where criu works (tools/test-criu.sh).
func TestCheckpointRestoreRefusals(t *testing.T) {
	bundle := newBundle(t, "/bin/true")
	ctx := newContext(t, bundle)
	c, err := ctx.Create("ck", bundle, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	images := filepath.Join(t.TempDir(), "ck")
	err = c.Checkpoint(&nook.CheckpointOptions{CriuOptions: nook.CriuOptions{ImagePath: images}})
	if !errors.Is(err, syscall.EBUSY) || !strings.Contains(err.Error(), "cannot be checkpointed in created state") {
		t.Errorf("checkpoint of a created container: %v", err)
	}
	if _, err := os.Stat(images); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused checkpoint made %s: %v", images, err)
	}
	if err := c.Delete(); err != nil {
		t.Error(err)
	}
	empty := t.TempDir()
	_, err = ctx.Restore("r", bundle, &nook.RestoreOptions{CriuOptions: nook.CriuOptions{ImagePath: empty}})
	if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "is not a checkpoint") {
		t.Errorf("restore from a directory that is not a checkpoint: %v", err)
	}
	if _, err := ctx.Load("r"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused restore left state: %v", err)
	}
}

// TestManyContainersFromManyGoroutines is the multithreaded-host test: 100
// containers created, started, waited for and deleted from 8 goroutines at
// once, while other goroutines allocate non-stop both on the Go heap and,
// through libnook, with malloc on other OS threads (so the libc allocator
// lock is often held by another thread at the moment of a clone). It must
// not hang, and must leave nothing behind.
//
// If it hangs, the watchdog reports what each stuck child is blocked in,
// kills them (they are this process's children) so the blocked creates
// return and clean up, and fails.
func TestManyContainersFromManyGoroutines(t *testing.T) {
	const total, workers = 100, 8
	bundle := newBundle(t, "/bin/true")
	ctx := newContext(t, bundle)

	stop := make(chan struct{})
	var allocs, mallocs int64
	var churn sync.WaitGroup
	churn.Add(2)
	go func() { // the Go heap
		defer churn.Done()
		var keep [][]byte
		for {
			select {
			case <-stop:
				return
			default:
			}
			keep = append(keep, make([]byte, 4096))
			if len(keep) > 1024 {
				keep = nil
			}
			atomic.AddInt64(&allocs, 1)
		}
	}()
	// Several callers, so that some OS thread is inside malloc at most
	// moments (cgo runs each call on the calling goroutine's thread).
	const mallocChurners = 4
	churn.Add(mallocChurners - 1)
	for i := 0; i < mallocChurners; i++ {
		go func() { // malloc, through libnook
			defer churn.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := nook.Features(); err != nil {
					t.Error(err)
					return
				}
				atomic.AddInt64(&mallocs, 1)
			}
		}()
	}

	var next int64 = -1
	var quit int32
	errs := make(chan error, total)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for atomic.LoadInt32(&quit) == 0 {
				i := atomic.AddInt64(&next, 1)
				if i >= total {
					return
				}
				errs <- runOne(ctx, fmt.Sprintf("many-%03d", i), bundle)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	hung := false
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		hung = true
		atomic.StoreInt32(&quit, 1)
		t.Errorf("HANG: not done after 60s (normally ~2s); children of this process:\n%s", describeChildren(t))
		killChildren(t)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			buf := make([]byte, 1<<20)
			t.Fatalf("still hung after killing the children; goroutines:\n%s", buf[:runtime.Stack(buf, true)])
		}
	}
	close(stop)
	churn.Wait()
	close(errs)
	n, failed := 0, 0
	for err := range errs {
		n++
		if err != nil {
			failed++
			if failed <= 10 && !hung {
				t.Error(err)
			}
		}
	}
	t.Logf("%d containers from %d goroutines, %d failed; %d Go allocations and %d libnook calls meanwhile",
		n, workers, failed, allocs, mallocs)
}

// describeChildren says, for each child process, its state, the kernel
// function it sleeps in and its current system call (/proc/PID/syscall).
func describeChildren(t *testing.T) string {
	var b strings.Builder
	for _, kid := range children(t) {
		pid := kid[:strings.IndexByte(kid, '(')]
		wchan, _ := os.ReadFile("/proc/" + pid + "/wchan")
		sc, _ := os.ReadFile("/proc/" + pid + "/syscall")
		fmt.Fprintf(&b, "  pid %s: wchan %s, syscall %s\n", kid, wchan, strings.TrimSpace(string(sc)))
		if strings.HasPrefix(string(sc), "202 ") {
			// A container init that has not exec'd yet, sleeping in futex(2):
			// it took a lock (malloc's, most likely) between clone and
			// execve that another thread held at the clone.
			b.WriteString("    -> futex(2) in a cloned child before execve: a lock taken after clone (fork-safety bug in the core)\n")
		}
	}
	return b.String()
}

// killChildren SIGKILLs every child of this process: all of them are
// containers' inits created by this test.
func killChildren(t *testing.T) {
	for _, kid := range children(t) {
		if pid, err := strconv.Atoi(kid[:strings.IndexByte(kid, '(')]); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func runOne(ctx *nook.Context, id, bundle string) error {
	c, err := ctx.Create(id, bundle, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Start(); err != nil {
		c.ForceDelete()
		return err
	}
	code, err := c.Wait()
	if err != nil {
		c.ForceDelete()
		return err
	}
	if err := c.Delete(); err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("%s: exit code %d", id, code)
	}
	return nil
}

// TestNoHostFdLeaksUnderConcurrency checks, from inside the containers,
// that a container created while other goroutines create containers (and
// so hold sockets, FIFOs and state directories open on other threads) sees
// no fd but its stdio: `ls /proc/self/fd` lists 0, 1, 2 and its own
// directory fd.
func TestNoHostFdLeaksUnderConcurrency(t *testing.T) {
	const workers, each = 8, 5
	bundle := newBundle(t, "/bin/sh", "-c", `n=$(ls /proc/self/fd | wc -l); [ "$n" -le 4 ] || { ls -l /proc/self/fd >&2; exit 9; }`)
	ctx := newContext(t, bundle)
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				errs <- runOne(ctx, fmt.Sprintf("fds-%d-%d", w, i), bundle)
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// cgroupFile is the host path of file name in the cgroup of pid for
// controller (e.g. "pids", "pids.max"), found as a reader of /proc would:
// the cgroup from /proc/PID/cgroup (a v1 hierarchy naming the controller,
// else the cgroup2 one) joined to that hierarchy's mount point.
func cgroupFile(t *testing.T, pid int, controller, name string) string {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	fstype, path := "", ""
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			if c == controller {
				fstype, path = "cgroup", f[2]
			}
		}
		if f[0] == "0" && f[1] == "" && fstype == "" {
			fstype, path = "cgroup2", f[2]
		}
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mi), "\n") {
		// id parent maj:min root mountpoint opts [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		a, b := strings.Fields(pre), strings.Fields(post)
		if len(a) < 5 || len(b) < 3 || b[0] != fstype {
			continue
		}
		if fstype == "cgroup" && !strings.Contains(","+b[2]+",", ","+controller+",") {
			continue
		}
		root, mnt := a[3], a[4]
		if rel := strings.TrimPrefix(path, root); strings.HasPrefix(path, root) && (root == "/" || rel == "" || rel[0] == '/') {
			return filepath.Join(mnt, rel, name)
		}
	}
	t.Fatalf("no %s mount for %s (%s) of pid %d", fstype, controller, path, pid)
	return ""
}

// readCount reads the counter the container writes to /count ("" while
// none was written, or mid-write).
func readCount(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// waitCountChange waits up to 10s for the counter to differ from old.
func waitCountChange(t *testing.T, file, old string) string {
	t.Helper()
	for i := 0; i < 200; i++ {
		if n := readCount(t, file); n != "" && n != old {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("counter %s stuck at %q", file, old)
	return ""
}

// TestPauseResumeUpdateStatsProcesses drives a running container whose
// shell writes an increasing counter to /count in its (writable) rootfs.
func TestPauseResumeUpdateStatsProcesses(t *testing.T) {
	bundle := newBundle(t, "/bin/sh", "-c", `i=0; while :; do i=$((i+1)); echo $i >/count; sleep 0.02; done`)
	// A writable root, so the counter lands in the bundle's rootfs.
	cfg := filepath.Join(bundle, "config.json")
	raw, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	spec["root"].(map[string]any)["readonly"] = false
	raw, _ = json.Marshal(spec)
	if err := os.WriteFile(cfg, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	counter := filepath.Join(bundle, "rootfs", "count")
	ctx := newContext(t, bundle)

	c, err := ctx.Create("ctl", bundle, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Whatever fails below, the container goes away (a no-op once deleted).
	defer c.ForceDelete()
	if err := c.Pause(); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("pause of a created container: %v", err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	n := waitCountChange(t, counter, "")

	// Paused: the status says so and the counter stands still.
	if err := c.Pause(); err != nil {
		t.Fatal(err)
	}
	if s, err := c.Status(); err != nil || s != nook.StatusPaused {
		t.Errorf("status after pause: %s, %v", s, err)
	}
	if st, err := c.State(); err != nil || st.Status != nook.StatusPaused {
		t.Errorf("state after pause: %+v, %v", st, err)
	}
	if err := c.Pause(); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("second pause: %v", err)
	}
	frozen := readCount(t, counter)
	time.Sleep(300 * time.Millisecond)
	if now := readCount(t, counter); now != frozen {
		t.Errorf("counter moved while paused: %q -> %q", frozen, now)
	}
	// Reading a paused container works.
	pids, err := c.Processes()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range pids {
		found = found || p == c.Pid()
	}
	if !found {
		t.Errorf("processes %v lack the init %d", pids, c.Pid())
	}

	// Resumed: running again, and counting.
	if err := c.Resume(); err != nil {
		t.Fatal(err)
	}
	if s, err := c.Status(); err != nil || s != nook.StatusRunning {
		t.Errorf("status after resume: %s, %v", s, err)
	}
	if err := c.Resume(); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("resume of a running container: %v", err)
	}
	if next := waitCountChange(t, counter, frozen); next == n {
		t.Errorf("counter did not advance: %s", next)
	}

	// Update: raw JSON, then a Go value; both reach the cgroup file.
	pidsMax := cgroupFile(t, c.Pid(), "pids", "pids.max")
	if err := c.Update(json.RawMessage(`{"pids":{"limit":64}}`)); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(pidsMax); err != nil || strings.TrimSpace(string(b)) != "64" {
		t.Errorf("%s after update to 64: %q, %v", pidsMax, b, err)
	}
	if err := c.Update(map[string]any{"pids": map[string]any{"limit": 65}}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(pidsMax); err != nil || strings.TrimSpace(string(b)) != "65" {
		t.Errorf("%s after update to 65: %q, %v", pidsMax, b, err)
	}
	// Bad input is EINVAL, names the problem, and changes nothing.
	var nerr *nook.Error
	err = c.Update(json.RawMessage(`{"pids":{"limit":"many"}}`))
	if !errors.Is(err, syscall.EINVAL) || !errors.As(err, &nerr) || nerr.Kind != nook.KindInvalidConfig ||
		!strings.Contains(err.Error(), "linux.resources.pids.limit") {
		t.Errorf("update with a string limit: %v", err)
	}
	t.Logf("bad update: %v", err)
	err = c.Update([]byte(`{"pids":`))
	if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "malformed JSON") {
		t.Errorf("update with malformed JSON: %v", err)
	}
	if b, _ := os.ReadFile(pidsMax); strings.TrimSpace(string(b)) != "65" {
		t.Errorf("%s changed by a failed update: %q", pidsMax, b)
	}

	// Stats: runc's events --stats data, with our limit and processes.
	raw, err = c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	var stats struct {
		Pids struct {
			Current uint64 `json:"current"`
			Limit   uint64 `json:"limit"`
		} `json:"pids"`
	}
	if err := json.Unmarshal(raw, &stats); err != nil || stats.Pids.Current < 1 || stats.Pids.Limit != 65 {
		t.Errorf("stats: %s (%v)", raw, err)
	}
	if pids, err := c.Processes(); err != nil || len(pids) < 1 {
		t.Errorf("processes after resume: %v, %v", pids, err)
	}
	t.Logf("counter held at %s while paused; %s = 65; processes while paused %v; stats pids %+v",
		frozen, pidsMax, pids, stats.Pids)

	// Stopped: the calls on a running container are EBUSY.
	if err := c.Kill(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code, err := c.Wait(); err != nil || code != 128+int(syscall.SIGKILL) {
		t.Errorf("wait: %d, %v", code, err)
	}
	for name, err := range map[string]error{
		"pause":  c.Pause(),
		"resume": c.Resume(),
		"update": c.Update(json.RawMessage(`{}`)),
	} {
		if !errors.Is(err, syscall.EBUSY) {
			t.Errorf("%s of a stopped container: %v", name, err)
		}
	}
	if _, err := c.Stats(); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("stats of a stopped container: %v", err)
	}
	if err := c.Delete(); err != nil {
		t.Fatal(err)
	}
}

// TestExec runs processes in a running container: exit codes, the
// container's pid namespace, kill, pid file, a paused container, bad
// process JSON, and many goroutines at once.
func TestExec(t *testing.T) {
	bundle := newBundle(t, "/bin/sleep", "1000")
	ctx := newContext(t, bundle)
	c, err := ctx.Create("exec", bundle, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Whatever fails below, the container goes away (a no-op once deleted).
	defer c.ForceDelete()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	proc := func(args ...string) map[string]any {
		return map[string]any{"args": args, "cwd": "/", "env": env, "user": map[string]any{"uid": 0, "gid": 0}}
	}

	// Exit code, with the process given as raw JSON.
	p, err := c.Exec(json.RawMessage(`{"args":["/bin/sh","-c","exit 7"],"cwd":"/","user":{"uid":0,"gid":0}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Pid() <= 0 || p.Pid() == c.Pid() {
		t.Errorf("exec pid %d, init %d", p.Pid(), c.Pid())
	}
	if code, err := p.Wait(); err != nil || code != 7 {
		t.Errorf("wait: %d, %v", code, err)
	}
	if _, err := p.Wait(); !errors.Is(err, syscall.ECHILD) {
		t.Errorf("second wait: %v", err)
	}
	p.Close()
	if _, err := p.Wait(); !errors.Is(err, nook.ErrClosed) {
		t.Errorf("wait after close: %v", err)
	}
	p.Close() // twice is fine

	// The process is in the container's pid namespace (and not the host's),
	// is in its cgroup, wrote the pid file, and dies of Kill.
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	p, err = c.Exec(proc("/bin/sleep", "1000"), &nook.ExecOptions{PidFile: pidFile})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	nsOf := func(pid int) string {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
		if err != nil {
			t.Errorf("ns of %d: %v", pid, err)
		}
		return l
	}
	execNS, initNS, selfNS := nsOf(p.Pid()), nsOf(c.Pid()), nsOf(os.Getpid())
	if execNS != initNS || execNS == selfNS {
		t.Errorf("exec pid ns %s, init's %s, ours %s", execNS, initNS, selfNS)
	}
	if b, err := os.ReadFile(pidFile); err != nil || string(b) != strconv.Itoa(p.Pid()) {
		t.Errorf("pid file %q (%v), pid %d", b, err, p.Pid())
	}
	if pids, err := c.Processes(); err != nil || !containsInt(pids, p.Pid()) {
		t.Errorf("processes %v (%v) lack the exec'd %d", pids, err, p.Pid())
	}
	t.Logf("exec'd pid %d in %s (init %d), host %s", p.Pid(), execNS, c.Pid(), selfNS)
	if err := p.Kill(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(); err != nil || code != 128+int(syscall.SIGKILL) {
		t.Errorf("wait after kill: %d, %v", code, err)
	}
	if err := p.Kill(syscall.Signal(1000)); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("kill with a bad signal: %v", err)
	}

	// Bad process JSON: EINVAL naming the problem; nothing is started.
	var nerr *nook.Error
	_, err = c.Exec(json.RawMessage(`{"args":"/bin/true","cwd":"/","user":{"uid":0,"gid":0}}`), nil)
	if !errors.Is(err, syscall.EINVAL) || !errors.As(err, &nerr) || nerr.Kind != nook.KindInvalidConfig ||
		!strings.Contains(err.Error(), "args") {
		t.Errorf("exec with a string args: %v", err)
	}
	t.Logf("bad exec: %v", err)
	if _, err := c.Exec([]byte(`{"args":[`), nil); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("exec with malformed JSON: %v", err)
	}
	if _, err := c.Exec(make(chan int), nil); err == nil {
		t.Errorf("exec of an unmarshallable value succeeded")
	}

	// From many goroutines at once, each waiting for its own.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p, err := c.Exec(proc("/bin/sh", "-c", fmt.Sprintf("exit %d", 10+i)), nil)
			if err != nil {
				t.Errorf("exec %d: %v", i, err)
				return
			}
			defer p.Close()
			if code, err := p.Wait(); err != nil || code != 10+i {
				t.Errorf("exec %d: wait %d, %v", i, code, err)
			}
		}(i)
	}
	wg.Wait()

	// Paused: EBUSY, unless IgnorePaused, when the process runs once resumed.
	if err := c.Pause(); err != nil {
		t.Fatal(err)
	}
	_, err = c.Exec(proc("/bin/true"), nil)
	if !errors.Is(err, syscall.EBUSY) || !errors.As(err, &nerr) || nerr.Kind != nook.KindInvalidState {
		t.Errorf("exec into a paused container: %v", err)
	}
	// The library finishes setting the process up only once the container
	// is thawed, so Exec returns after another goroutine resumes it.
	resumed := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		resumed <- c.Resume()
	}()
	p, err = c.Exec(proc("/bin/sh", "-c", "exit 5"), &nook.ExecOptions{IgnorePaused: true})
	if rerr := <-resumed; rerr != nil {
		t.Errorf("resume: %v", rerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if code, err := p.Wait(); err != nil || code != 5 {
		t.Errorf("wait for the exec made while paused: %d, %v", code, err)
	}

	// Stopped: EBUSY.
	if err := c.Kill(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code, err := c.Wait(); err != nil || code != 128+int(syscall.SIGKILL) {
		t.Errorf("wait: %d, %v", code, err)
	}
	if _, err := c.Exec(proc("/bin/true"), nil); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("exec into a stopped container: %v", err)
	}
	if err := c.Delete(); err != nil {
		t.Fatal(err)
	}
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestCheckpointRestoreWithCriu checkpoints a counting container through
// the Go binding (so the C ABI) and restores it: the count goes on from
// where it stopped. It needs criu on a kernel it supports, which nook's
// test hosts are not: it runs only with NOOK_TEST_CRIU=1 (in the criu VM).
func TestCheckpointRestoreWithCriu(t *testing.T) {
	if os.Getenv("NOOK_TEST_CRIU") != "1" {
		t.Skip("needs criu on a kernel it supports (NOOK_TEST_CRIU=1, tools/test-criu.sh)")
	}
	bundle := newBundle(t, "/bin/sh", "-c", `i=0; while :; do i=$((i+1)); echo $i >/count; sleep 0.1; done`)
	cfg := filepath.Join(bundle, "config.json")
	raw, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	spec["root"].(map[string]any)["readonly"] = false
	// The host's /usr, /bin, /lib bound without what is mounted below
	// them (the criu VM mounts its module tree, 9p, on /lib/modules: criu
	// dumps no 9p mount).
	for _, m := range spec["mounts"].([]any) {
		m := m.(map[string]any)
		if opts, ok := m["options"].([]any); ok {
			for i, o := range opts {
				if o == "rbind" {
					opts[i] = "bind"
				}
			}
		}
	}
	raw, _ = json.Marshal(spec)
	if err := os.WriteFile(cfg, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	counter := filepath.Join(bundle, "rootfs", "count")
	ctx := newContext(t, bundle)

	// The init gets /dev/null as stdio: criu dumps neither the test's
	// terminal nor a file outside the container's mounts.
	c := withNullStdio(t, func() (*nook.Container, error) {
		c, err := ctx.Create("ck", bundle, nil)
		if err == nil {
			err = c.Start()
		}
		return c, err
	})
	defer c.Close()
	defer c.ForceDelete()
	waitCountChange(t, counter, waitCountChange(t, counter, ""))

	images := filepath.Join(t.TempDir(), "ck")
	if err := c.Checkpoint(&nook.CheckpointOptions{CriuOptions: nook.CriuOptions{ImagePath: images}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctx.Load("ck"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the checkpointed container is still there: %v", err)
	}
	stopped := readCount(t, counter)
	time.Sleep(500 * time.Millisecond)
	if now := readCount(t, counter); now != stopped {
		t.Fatalf("the checkpointed container counts on: %s after %s", now, stopped)
	}

	r, err := ctx.Restore("ck", bundle, &nook.RestoreOptions{CriuOptions: nook.CriuOptions{ImagePath: images}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer r.ForceDelete()
	next := waitCountChange(t, counter, stopped)
	a, _ := strconv.Atoi(stopped)
	b, _ := strconv.Atoi(next)
	if b <= a {
		t.Fatalf("the restored counter went from %d to %d: not continued", a, b)
	}
	if st, err := r.Status(); err != nil || st != nook.StatusRunning {
		t.Fatalf("restored status %v, %v", st, err)
	}
	if err := r.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := r.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := r.ForceDelete(); err != nil {
		t.Fatal(err)
	}
}

// withNullStdio runs f with /dev/null as this process's fds 0, 1 and 2
// (what a container created then inherits), and puts them back.
func withNullStdio(t *testing.T, f func() (*nook.Container, error)) *nook.Container {
	t.Helper()
	null, err := os.OpenFile("/dev/null", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	var saved [3]int
	for fd := 0; fd < 3; fd++ {
		if saved[fd], err = syscall.Dup(fd); err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(saved[fd])
	}
	for fd := 0; fd < 3; fd++ {
		if err := syscall.Dup2(int(null.Fd()), fd); err != nil {
			t.Fatal(err)
		}
	}
	c, err := f()
	for fd := 0; fd < 3; fd++ {
		_ = syscall.Dup2(saved[fd], fd)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}
