// Package nook runs OCI containers through libnook, the C library of the
// nook runtime (found with pkg-config; see ffi/README.md).
//
// A Context is a state root holding containers (runc's --root); a
// Container is a handle on one of them. Both are safe for concurrent use by
// many goroutines. Errors are *Error values that unwrap to syscall.Errno.
//
//	ctx, err := nook.NewContext("/run/nook")
//	c, err := ctx.Create("demo", "/path/to/bundle", nil)
//	err = c.Start()
//	code, err := c.Wait()
//	err = c.Delete()
//
// The process that creates a container is its init's parent: only it can
// Wait for it. Creating containers from a multithreaded Go program is safe:
// libnook's child does not allocate, lock or run Go code before its execve.
package nook

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"syscall"

	"nook.dev/nook/internal/capi"
)

// Version is the version of the loaded libnook, e.g. "0.1.0".
func Version() string { return capi.Version() }

func init() {
	// A libnook with another ABI than the header we were built with would
	// misread our structs: refuse to run rather than corrupt memory.
	if lib := capi.LibABIVersion(); lib != capi.ABIVersion {
		panic(fmt.Sprintf("nook: libnook ABI %d, but built against nook.h ABI %d", lib, capi.ABIVersion))
	}
}

// Features returns the OCI features document (runtime-spec features.md).
func Features() (json.RawMessage, error) {
	js, e := capi.Features()
	if e != nil {
		return nil, wrapErr("features", e)
	}
	return json.RawMessage(js), nil
}

// ReexecSealed re-executes the program from a sealed, read-only image of
// itself, unless it already runs from one. A program that creates
// containers whose processes may hold CAP_SYS_PTRACE without a user
// namespace of their own calls it first thing in main (or in an init
// function): Create and Exec refuse such containers otherwise, since a
// container process could rewrite the program on the host through
// /proc/PID/exe of nook's process (CVE-2019-5736). The first call does
// not return: the program starts again, same arguments and environment,
// and there the call returns nil.
func ReexecSealed() error {
	if e := capi.ReexecSealed(); e != nil {
		return wrapErr("re-executing sealed", e)
	}
	return nil
}

// Status is a container's status, as runc reports it.
type Status string

// Statuses.
const (
	StatusCreated Status = "created"
	StatusRunning Status = "running"
	StatusPaused  Status = "paused"
	StatusStopped Status = "stopped"
)

// State is a container's state, as `runc state` prints it.
type State struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      Status            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     string            `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

// CreateOptions are the options of Create and Run that are not in
// config.json. The zero value (or nil) means the defaults.
type CreateOptions struct {
	// PidFile, if set, receives the init's pid.
	PidFile string
	// ConsoleSocket receives the pty master when process.terminal is true.
	ConsoleSocket string
	// NoPivot uses MS_MOVE + chroot instead of pivot_root.
	NoPivot bool
	// PreserveFDs passes the caller's fds 3 .. 3+N-1 to the container.
	PreserveFDs uint32
	// SystemdCgroup lets systemd make the cgroup, as a transient unit
	// (runc's --systemd-cgroup); linux.cgroupsPath is "slice:prefix:name".
	SystemdCgroup bool
}

func (o *CreateOptions) toC() *capi.CreateOpts {
	if o == nil {
		return nil
	}
	co := &capi.CreateOpts{PidFile: o.PidFile, ConsoleSocket: o.ConsoleSocket, PreserveFDs: o.PreserveFDs}
	if o.NoPivot {
		co.Flags |= capi.CreateNoPivot
	}
	if o.SystemdCgroup {
		co.Flags |= capi.CreateSystemdCgroup
	}
	return co
}

// handle guards a C pointer: calls hold the read lock, Close the write
// lock, so a handle is never freed while a call on it runs.
type handle struct {
	mu sync.RWMutex
	p  capi.Container
}

func (h *handle) use(f func(p capi.Container) error) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.p == nil {
		return ErrClosed
	}
	return f(h.p)
}

func (h *handle) close(free func(capi.Container)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.p != nil {
		free(h.p)
		h.p = nil
	}
}

// Context is a state root holding containers. Safe for concurrent use.
type Context struct {
	h    handle
	root string
}

// NewContext opens the state root root ("" means /run/nook). Close it when
// done; containers are not affected by Close.
func NewContext(root string) (*Context, error) {
	p, e := capi.ContextNew(root)
	if e != nil {
		return nil, wrapErr("new context", e)
	}
	if root == "" {
		root = "/run/nook"
	}
	ctx := &Context{h: handle{p: p}, root: root}
	runtime.SetFinalizer(ctx, (*Context).Close)
	return ctx, nil
}

// Root is the state root directory.
func (ctx *Context) Root() string { return ctx.root }

// Close releases the handle. It is safe to call more than once.
func (ctx *Context) Close() error {
	ctx.h.close(capi.ContextFree)
	runtime.SetFinalizer(ctx, nil)
	return nil
}

func newContainer(p capi.Container) *Container {
	c := &Container{h: handle{p: p}, id: capi.ContainerID(p), pid: capi.ContainerPid(p)}
	runtime.SetFinalizer(c, (*Container).Close)
	return c
}

// Create loads the bundle directory bundle and creates container id: its
// init is set up and waits for Start. opts may be nil. On failure nothing
// is left behind.
func (ctx *Context) Create(id, bundle string, opts *CreateOptions) (*Container, error) {
	var c *Container
	err := ctx.h.use(func(p capi.Context) error {
		cp, e := capi.ContainerCreate(p, id, bundle, opts.toC())
		if e != nil {
			return wrapErr("create "+id, e)
		}
		c = newContainer(cp)
		return nil
	})
	return c, err
}

// Load opens the existing container id. A missing container is an error
// matching os.ErrNotExist.
func (ctx *Context) Load(id string) (*Container, error) {
	var c *Container
	err := ctx.h.use(func(p capi.Context) error {
		cp, e := capi.ContainerLoad(p, id)
		if e != nil {
			return wrapErr("load "+id, e)
		}
		c = newContainer(cp)
		return nil
	})
	return c, err
}

// Delete removes container id by its id, as `nook delete [--force] ID`
// does: with force it kills a running container first, and it removes a
// container whose state cannot be loaded (a corrupt state.json) as well,
// which Load followed by Container.ForceDelete cannot.
func (ctx *Context) Delete(id string, force bool) error {
	var flags uint32
	what := "delete "
	if force {
		flags, what = capi.DeleteForce, "delete --force "
	}
	return ctx.h.use(func(p capi.Context) error { return wrapErr(what+id, capi.ContextDelete(p, id, flags)) })
}

// List returns the state of every container under the root, sorted by id.
func (ctx *Context) List() ([]State, error) {
	var out []State
	err := ctx.h.use(func(p capi.Context) error {
		js, e := capi.ContextList(p)
		if e != nil {
			return wrapErr("list", e)
		}
		return json.Unmarshal([]byte(js), &out)
	})
	return out, err
}

// Run creates, starts, waits for and deletes container id, and returns its
// exit code (128+N when killed by signal N).
func (ctx *Context) Run(id, bundle string, opts *CreateOptions) (int, error) {
	var code int
	err := ctx.h.use(func(p capi.Context) error {
		c, e := capi.ContextRun(p, id, bundle, opts.toC())
		code = c
		return wrapErr("run "+id, e)
	})
	return code, err
}

// Container is a handle on one container. Safe for concurrent use. Close
// releases the handle only; the container lives on until deleted.
type Container struct {
	h   handle
	id  string
	pid int
}

// ID is the container id.
func (c *Container) ID() string { return c.id }

// Pid is the host pid of the container's init as recorded at create time.
func (c *Container) Pid() int { return c.pid }

// Close releases the handle. It is safe to call more than once.
func (c *Container) Close() error {
	c.h.close(capi.ContainerFree)
	runtime.SetFinalizer(c, nil)
	return nil
}

// Start lets a created container's init execute its process.
func (c *Container) Start() error {
	return c.h.use(func(p capi.Container) error { return wrapErr("start "+c.id, capi.ContainerStart(p)) })
}

// Wait waits for the init to exit and returns its exit code (128+N when
// killed by signal N). Only the creating process can wait.
func (c *Container) Wait() (int, error) {
	var code int
	err := c.h.use(func(p capi.Container) error {
		n, e := capi.ContainerWait(p)
		code = n
		return wrapErr("wait "+c.id, e)
	})
	return code, err
}

// TryWait is Wait without blocking: exited is false while the init runs.
func (c *Container) TryWait() (code int, exited bool, err error) {
	err = c.h.use(func(p capi.Container) error {
		var e *capi.Error
		code, exited, e = capi.ContainerTryWait(p)
		return wrapErr("wait "+c.id, e)
	})
	return code, exited, err
}

// Kill sends sig to the container's init.
func (c *Container) Kill(sig syscall.Signal) error {
	return c.h.use(func(p capi.Container) error { return wrapErr("kill "+c.id, capi.ContainerKill(p, int(sig), 0)) })
}

// KillAll sends sig to every process of the container.
func (c *Container) KillAll(sig syscall.Signal) error {
	return c.h.use(func(p capi.Container) error {
		return wrapErr("kill --all "+c.id, capi.ContainerKill(p, int(sig), capi.KillAll))
	})
}

// Delete removes a created or stopped container.
func (c *Container) Delete() error {
	return c.h.use(func(p capi.Container) error { return wrapErr("delete "+c.id, capi.ContainerDelete(p, 0)) })
}

// ForceDelete kills the container if it runs, then removes it.
func (c *Container) ForceDelete() error {
	return c.h.use(func(p capi.Container) error {
		return wrapErr("delete --force "+c.id, capi.ContainerDelete(p, capi.DeleteForce))
	})
}

// Status reads the container's current status from the kernel.
func (c *Container) Status() (Status, error) {
	var st Status
	err := c.h.use(func(p capi.Container) error {
		n, e := capi.ContainerStatus(p)
		if e != nil {
			return wrapErr("status "+c.id, e)
		}
		switch n {
		case capi.StatusCreated:
			st = StatusCreated
		case capi.StatusRunning:
			st = StatusRunning
		case capi.StatusPaused:
			st = StatusPaused
		case capi.StatusStopped:
			st = StatusStopped
		default:
			st = Status(fmt.Sprintf("unknown(%d)", n))
		}
		return nil
	})
	return st, err
}

// State returns the container's state, as `runc state` prints it.
func (c *Container) State() (*State, error) {
	var st State
	err := c.h.use(func(p capi.Container) error {
		js, e := capi.ContainerState(p)
		if e != nil {
			return wrapErr("state "+c.id, e)
		}
		return json.Unmarshal([]byte(js), &st)
	})
	if err != nil {
		return nil, err
	}
	return &st, nil
}

// Pause freezes every process of a running container; its status becomes
// StatusPaused. Pausing a container that is not running is an error
// matching syscall.EBUSY.
func (c *Container) Pause() error {
	return c.h.use(func(p capi.Container) error { return wrapErr("pause "+c.id, capi.ContainerPause(p)) })
}

// Resume thaws a paused container (syscall.EBUSY if it is not paused).
func (c *Container) Resume() error {
	return c.h.use(func(p capi.Container) error { return wrapErr("resume "+c.id, capi.ContainerResume(p)) })
}

// ExecOptions are the options of Exec that are not in the process spec.
// The zero value (or nil) means the defaults.
type ExecOptions struct {
	// PidFile, if set, receives the process's host pid.
	PidFile string
	// ConsoleSocket receives the pty master when the process's terminal is true.
	ConsoleSocket string
	// PreserveFDs passes the caller's fds 3 .. 3+N-1 to the process.
	PreserveFDs uint32
	// IgnorePaused execs into a paused container too (runc's exec
	// --ignore-paused). The process is set up inside the frozen cgroup, so
	// Exec returns only once another goroutine (or process) calls Resume.
	IgnorePaused bool
}

func (o *ExecOptions) toC() *capi.ExecOpts {
	if o == nil {
		return nil
	}
	eo := &capi.ExecOpts{PidFile: o.PidFile, ConsoleSocket: o.ConsoleSocket, PreserveFDs: o.PreserveFDs}
	if o.IgnorePaused {
		eo.Flags |= capi.ExecIgnorePaused
	}
	return eo
}

// jsonText passes a json.RawMessage or []byte as is and marshals anything else.
func jsonText(v any) ([]byte, error) {
	switch r := v.(type) {
	case json.RawMessage:
		return r, nil
	case []byte:
		return r, nil
	default:
		return json.Marshal(v)
	}
}

// Exec starts a new process in the running container, like `runc exec`.
// process is config.json's process object: JSON text as a json.RawMessage
// or []byte (passed as is), or any value that encoding/json marshals to
// that shape (a map, or the runtime-spec's Process):
//
//	p, err := c.Exec(json.RawMessage(`{"args":["/bin/sh","-c","exit 7"],"cwd":"/"}`), nil)
//	code, err := p.Wait() // 7
//	p.Close()
//
// opts may be nil. The calling process is the new process's parent: only
// it can Wait, and it should, or the process stays a zombie. A process
// that does not fit the spec is a *Error of kind KindInvalidConfig
// (syscall.EINVAL) naming the field; a stopped container, or a paused one
// without IgnorePaused, is syscall.EBUSY.
func (c *Container) Exec(process any, opts *ExecOptions) (*Process, error) {
	text, err := jsonText(process)
	if err != nil {
		return nil, fmt.Errorf("nook: exec in %s: %w", c.id, err)
	}
	var proc *Process
	err = c.h.use(func(p capi.Container) error {
		pp, e := capi.ContainerExec(p, string(text), opts.toC())
		if e != nil {
			return wrapErr("exec in "+c.id, e)
		}
		proc = &Process{h: handle{p: pp}, pid: capi.ProcessPid(pp), cid: c.id}
		runtime.SetFinalizer(proc, (*Process).Close)
		return nil
	})
	return proc, err
}

// Process is a process started by Exec. Safe for concurrent use (but only
// one goroutine should Wait). Close releases the handle only: the process
// is neither signalled nor reaped.
type Process struct {
	h   handle
	pid int
	cid string
}

// Pid is the process's host pid.
func (p *Process) Pid() int { return p.pid }

func (p *Process) op(what string) string { return fmt.Sprintf("%s exec %d in %s", what, p.pid, p.cid) }

// Wait waits for the process to exit and returns its exit code (128+N when
// killed by signal N). Only the process that called Exec can wait.
func (p *Process) Wait() (int, error) {
	var code int
	err := p.h.use(func(pp capi.Process) error {
		n, e := capi.ProcessWait(pp)
		code = n
		return wrapErr(p.op("wait"), e)
	})
	return code, err
}

// Kill sends sig to the process.
func (p *Process) Kill(sig syscall.Signal) error {
	return p.h.use(func(pp capi.Process) error { return wrapErr(p.op("kill"), capi.ProcessKill(pp, int(sig))) })
}

// Close releases the handle; it waits for calls in flight (a Wait
// included). It is safe to call more than once.
func (p *Process) Close() error {
	p.h.close(capi.ProcessFree)
	runtime.SetFinalizer(p, nil)
	return nil
}

// Update applies new resource limits, like `runc update --resources`.
// resources is config.json's linux.resources: JSON text as a
// json.RawMessage or []byte (passed as is), or any value that encoding/json
// marshals to that shape (a map, or the runtime-spec's LinuxResources).
// Fields left out are not changed:
//
//	err := c.Update(json.RawMessage(`{"pids":{"limit":64}}`))
//
// A value that does not fit linux.resources is a *Error of kind
// KindInvalidConfig (syscall.EINVAL) naming the field.
func (c *Container) Update(resources any) error {
	text, err := jsonText(resources)
	if err != nil {
		return fmt.Errorf("nook: update %s: %w", c.id, err)
	}
	return c.h.use(func(p capi.Container) error { return wrapErr("update "+c.id, capi.ContainerUpdate(p, string(text))) })
}

// Stats returns the container's resource usage as JSON shaped like the
// "data" of runc's `events --stats`: {"cpu":..., "memory":..., "pids":
// {"current":N,"limit":N}, "blkio":..., "hugetlb":...}, times in
// nanoseconds and sizes in bytes. A stopped container is syscall.EBUSY.
func (c *Container) Stats() (json.RawMessage, error) {
	var out json.RawMessage
	err := c.h.use(func(p capi.Container) error {
		js, e := capi.ContainerStats(p)
		if e != nil {
			return wrapErr("stats "+c.id, e)
		}
		out = json.RawMessage(js)
		return nil
	})
	return out, err
}

// Processes returns the host pids of every process of the container.
func (c *Container) Processes() ([]int, error) {
	var pids []int
	err := c.h.use(func(p capi.Container) error {
		js, e := capi.ContainerProcesses(p)
		if e != nil {
			return wrapErr("processes "+c.id, e)
		}
		return json.Unmarshal([]byte(js), &pids)
	})
	return pids, err
}

// CgroupsMode is what criu does with the cgroups on checkpoint and restore
// (runc's --manage-cgroups-mode); the zero value is criu's default, soft.
type CgroupsMode uint32

// Cgroups modes.
const (
	CgroupsModeDefault = CgroupsMode(capi.CgroupsModeDefault)
	CgroupsModeSoft    = CgroupsMode(capi.CgroupsModeSoft)
	CgroupsModeFull    = CgroupsMode(capi.CgroupsModeFull)
	CgroupsModeStrict  = CgroupsMode(capi.CgroupsModeStrict)
	CgroupsModeIgnore  = CgroupsMode(capi.CgroupsModeIgnore)
)

// CriuOptions are the criu options Checkpoint and Restore share (runc's
// flags of the same names).
type CriuOptions struct {
	// ImagePath is where the images are (required).
	ImagePath string
	// WorkPath receives criu's log (dump.log, restore.log); the image
	// path if empty.
	WorkPath       string
	TCPEstablished bool
	ExtUnixSk      bool
	ShellJob       bool
	FileLocks      bool
	AutoDedup      bool
	// ManageCgroupsMode is criu's cgroup mode.
	ManageCgroupsMode CgroupsMode
	// EmptyNS holds the CLONE_NEW* flags of namespaces restored empty.
	EmptyNS uint32
}

func (o *CriuOptions) flags() uint32 {
	var f uint32
	for _, b := range []struct {
		on  bool
		bit uint32
	}{
		{o.TCPEstablished, capi.CriuTCPEstablished},
		{o.ExtUnixSk, capi.CriuExtUnixSk},
		{o.ShellJob, capi.CriuShellJob},
		{o.FileLocks, capi.CriuFileLocks},
		{o.AutoDedup, capi.CriuAutoDedup},
	} {
		if b.on {
			f |= b.bit
		}
	}
	return f
}

// CheckpointOptions are the options of Checkpoint.
type CheckpointOptions struct {
	CriuOptions
	// ParentPath is the previous pre-dump, relative to the image path.
	ParentPath string
	// LeaveRunning keeps the container running; otherwise it is deleted
	// once dumped, as with runc.
	LeaveRunning bool
	// PreDump dumps memory only, for a later dump with ParentPath.
	PreDump bool
}

// Checkpoint dumps the running container with criu into opts.ImagePath.
// A container that is not running is syscall.EBUSY; a criu failure is
// syscall.EIO, its message naming dump.log and its last errors.
func (c *Container) Checkpoint(opts *CheckpointOptions) error {
	if opts == nil {
		opts = &CheckpointOptions{}
	}
	co := &capi.CheckpointOpts{
		ImagePath:         opts.ImagePath,
		WorkPath:          opts.WorkPath,
		ParentPath:        opts.ParentPath,
		Flags:             opts.flags(),
		ManageCgroupsMode: uint32(opts.ManageCgroupsMode),
		EmptyNS:           opts.EmptyNS,
	}
	if opts.LeaveRunning {
		co.Flags |= capi.CheckpointLeaveRunning
	}
	if opts.PreDump {
		co.Flags |= capi.CheckpointPreDump
	}
	return c.h.use(func(p capi.Container) error {
		return wrapErr("checkpoint "+c.id, capi.ContainerCheckpoint(p, co))
	})
}

// RestoreOptions are the options of Restore.
type RestoreOptions struct {
	CriuOptions
	// PidFile, if set, receives the restored init's pid.
	PidFile string
	// ConsoleSocket receives the restored terminal's pty master.
	ConsoleSocket string
	// NoPivot is runc's --no-pivot.
	NoPivot bool
	// SystemdCgroup lets systemd make the cgroup, as the checkpointed
	// container's was made (runc's --systemd-cgroup).
	SystemdCgroup bool
	// LsmProfile and LsmMountContext replace the dumped LSM settings.
	LsmProfile, LsmMountContext string
}

// Restore restores container id from the checkpoint at opts.ImagePath
// with the bundle directory bundle. The calling process is the restored
// init's parent (it can Wait). An image path that is not a checkpoint is
// syscall.EINVAL, a taken id syscall.EEXIST; nothing is left behind on
// failure.
func (ctx *Context) Restore(id, bundle string, opts *RestoreOptions) (*Container, error) {
	if opts == nil {
		opts = &RestoreOptions{}
	}
	ro := &capi.RestoreOpts{
		ImagePath:         opts.ImagePath,
		WorkPath:          opts.WorkPath,
		PidFile:           opts.PidFile,
		ConsoleSocket:     opts.ConsoleSocket,
		LsmProfile:        opts.LsmProfile,
		LsmMountContext:   opts.LsmMountContext,
		Flags:             opts.flags(),
		ManageCgroupsMode: uint32(opts.ManageCgroupsMode),
		EmptyNS:           opts.EmptyNS,
	}
	if opts.NoPivot {
		ro.Flags |= capi.RestoreNoPivot
	}
	if opts.SystemdCgroup {
		ro.Flags |= capi.RestoreSystemdCgroup
	}
	var c *Container
	err := ctx.h.use(func(p capi.Context) error {
		cp, e := capi.ContextRestore(p, id, bundle, ro)
		if e != nil {
			return wrapErr("restore "+id, e)
		}
		c = newContainer(cp)
		return nil
	})
	return c, err
}
