// Package capi is the flat cgo layer over libnook's C API (include/nook.h):
// one Go function per C function, taking and returning plain Go values.
// It has no logic beyond converting values; package nook builds the
// idiomatic API on top of it.
package capi

/*
#cgo pkg-config: nook
#include <stdlib.h>
#include <nook.h>
*/
import "C"

import (
	"syscall"
	"unsafe"
)

// ABIVersion is the NOOK_ABI_VERSION of the header this package was built
// against.
const ABIVersion = uint32(C.NOOK_ABI_VERSION)

// Error kinds, mirrored from nook_error_kind_t.
const (
	KindOS              = int(C.NOOK_ERROR_KIND_OS)
	KindInvalidConfig   = int(C.NOOK_ERROR_KIND_INVALID_CONFIG)
	KindNotFound        = int(C.NOOK_ERROR_KIND_NOT_FOUND)
	KindAlreadyExists   = int(C.NOOK_ERROR_KIND_ALREADY_EXISTS)
	KindInvalidState    = int(C.NOOK_ERROR_KIND_INVALID_STATE)
	KindUnsupported     = int(C.NOOK_ERROR_KIND_UNSUPPORTED)
	KindInvalidArgument = int(C.NOOK_ERROR_KIND_INVALID_ARGUMENT)
	KindInternal        = int(C.NOOK_ERROR_KIND_INTERNAL)
)

// Statuses, mirrored from nook_status_t.
const (
	StatusCreated = int(C.NOOK_STATUS_CREATED)
	StatusRunning = int(C.NOOK_STATUS_RUNNING)
	StatusPaused  = int(C.NOOK_STATUS_PAUSED)
	StatusStopped = int(C.NOOK_STATUS_STOPPED)
)

// Flags, mirrored from the NOOK_* macros.
const (
	CreateNoPivot       = uint32(C.NOOK_CREATE_NO_PIVOT)
	CreateSystemdCgroup = uint32(C.NOOK_CREATE_SYSTEMD_CGROUP)
	KillAll             = uint32(C.NOOK_KILL_ALL)
	DeleteForce         = uint32(C.NOOK_DELETE_FORCE)
	ExecIgnorePaused    = uint32(C.NOOK_EXEC_IGNORE_PAUSED)

	CriuTCPEstablished     = uint32(C.NOOK_CRIU_TCP_ESTABLISHED)
	CriuExtUnixSk          = uint32(C.NOOK_CRIU_EXT_UNIX_SK)
	CriuShellJob           = uint32(C.NOOK_CRIU_SHELL_JOB)
	CriuFileLocks          = uint32(C.NOOK_CRIU_FILE_LOCKS)
	CriuAutoDedup          = uint32(C.NOOK_CRIU_AUTO_DEDUP)
	CheckpointLeaveRunning = uint32(C.NOOK_CHECKPOINT_LEAVE_RUNNING)
	CheckpointPreDump      = uint32(C.NOOK_CHECKPOINT_PRE_DUMP)
	RestoreNoPivot         = uint32(C.NOOK_RESTORE_NO_PIVOT)
	RestoreSystemdCgroup   = uint32(C.NOOK_RESTORE_SYSTEMD_CGROUP)
	CgroupsModeDefault     = uint32(C.NOOK_CGROUPS_MODE_DEFAULT)
	CgroupsModeSoft        = uint32(C.NOOK_CGROUPS_MODE_SOFT)
	CgroupsModeFull        = uint32(C.NOOK_CGROUPS_MODE_FULL)
	CgroupsModeStrict      = uint32(C.NOOK_CGROUPS_MODE_STRICT)
	CgroupsModeIgnore      = uint32(C.NOOK_CGROUPS_MODE_IGNORE)
)

// Error is a nook_error_t copied into Go memory.
type Error struct {
	Errno   syscall.Errno
	Kind    int
	Message string
}

// takeError converts a failed call's return value and error object into
// an *Error, and frees the C object.
func takeError(ret C.int, cerr *C.nook_error_t) *Error {
	if cerr == nil {
		return &Error{Errno: syscall.Errno(-ret), Kind: KindOS, Message: syscall.Errno(-ret).Error()}
	}
	defer C.nook_error_free(cerr)
	return &Error{
		Errno:   syscall.Errno(cerr.saved_errno),
		Kind:    int(cerr.kind),
		Message: C.GoString(cerr.message),
	}
}

// takeString copies a libnook-allocated string and frees it.
func takeString(s *C.char) string {
	defer C.nook_string_free(s)
	return C.GoString(s)
}

// cstring returns a C copy of s (free it with free), or NULL for "".
func cstring(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

func free(p *C.char) {
	if p != nil {
		C.free(unsafe.Pointer(p))
	}
}

// Context is a nook_context_t*.
type Context = unsafe.Pointer

// Container is a nook_container_t*.
type Container = unsafe.Pointer

// Process is a nook_process_t*.
type Process = unsafe.Pointer

func ctxp(p Context) *C.nook_context_t     { return (*C.nook_context_t)(p) }
func conp(p Container) *C.nook_container_t { return (*C.nook_container_t)(p) }
func procp(p Process) *C.nook_process_t    { return (*C.nook_process_t)(p) }

// Version is nook_version().
func Version() string { return C.GoString(C.nook_version()) }

// LibABIVersion is nook_abi_version().
func LibABIVersion() uint32 { return uint32(C.nook_abi_version()) }

// Features is nook_features().
func Features() (string, *Error) {
	var js *C.char
	var cerr *C.nook_error_t
	if ret := C.nook_features(&js, &cerr); ret < 0 {
		return "", takeError(ret, cerr)
	}
	return takeString(js), nil
}

// ReexecSealed is nook_reexec_sealed().
func ReexecSealed() *Error {
	var cerr *C.nook_error_t
	if ret := C.nook_reexec_sealed(&cerr); ret < 0 {
		return takeError(ret, cerr)
	}
	return nil
}

// ContextNew is nook_context_new(); root "" means the default root.
func ContextNew(root string) (Context, *Error) {
	croot := cstring(root)
	defer free(croot)
	var ctx *C.nook_context_t
	var cerr *C.nook_error_t
	if ret := C.nook_context_new(croot, &ctx, &cerr); ret < 0 {
		return nil, takeError(ret, cerr)
	}
	return Context(ctx), nil
}

// ContextFree is nook_context_free().
func ContextFree(ctx Context) { C.nook_context_free(ctxp(ctx)) }

// ContextList is nook_context_list().
func ContextList(ctx Context) (string, *Error) {
	var js *C.char
	var cerr *C.nook_error_t
	if ret := C.nook_context_list(ctxp(ctx), &js, &cerr); ret < 0 {
		return "", takeError(ret, cerr)
	}
	return takeString(js), nil
}

// CreateOpts mirrors nook_create_opts_t.
type CreateOpts struct {
	PidFile       string
	ConsoleSocket string
	PreserveFDs   uint32
	Flags         uint32
}

// withOpts builds a nook_create_opts_t (its strings in C memory) for f.
func withOpts(o *CreateOpts, f func(*C.nook_create_opts_t) C.int) C.int {
	if o == nil {
		return f(nil)
	}
	var co C.nook_create_opts_t
	co.struct_size = C.size_t(unsafe.Sizeof(co))
	co.pid_file = cstring(o.PidFile)
	defer free(co.pid_file)
	co.console_socket = cstring(o.ConsoleSocket)
	defer free(co.console_socket)
	co.preserve_fds = C.uint32_t(o.PreserveFDs)
	co.flags = C.uint32_t(o.Flags)
	return f(&co)
}

// ContainerCreate is nook_container_create().
func ContainerCreate(ctx Context, id, bundle string, o *CreateOpts) (Container, *Error) {
	cid, cbundle := C.CString(id), C.CString(bundle)
	defer free(cid)
	defer free(cbundle)
	var c *C.nook_container_t
	var cerr *C.nook_error_t
	ret := withOpts(o, func(co *C.nook_create_opts_t) C.int {
		return C.nook_container_create(ctxp(ctx), cid, cbundle, co, &c, &cerr)
	})
	if ret < 0 {
		return nil, takeError(ret, cerr)
	}
	return Container(c), nil
}

// ContextRun is nook_context_run().
func ContextRun(ctx Context, id, bundle string, o *CreateOpts) (int, *Error) {
	cid, cbundle := C.CString(id), C.CString(bundle)
	defer free(cid)
	defer free(cbundle)
	var code C.int
	var cerr *C.nook_error_t
	ret := withOpts(o, func(co *C.nook_create_opts_t) C.int {
		return C.nook_context_run(ctxp(ctx), cid, cbundle, co, &code, &cerr)
	})
	if ret < 0 {
		return 0, takeError(ret, cerr)
	}
	return int(code), nil
}

// ContainerLoad is nook_container_load().
func ContainerLoad(ctx Context, id string) (Container, *Error) {
	cid := C.CString(id)
	defer free(cid)
	var c *C.nook_container_t
	var cerr *C.nook_error_t
	if ret := C.nook_container_load(ctxp(ctx), cid, &c, &cerr); ret < 0 {
		return nil, takeError(ret, cerr)
	}
	return Container(c), nil
}

// ContainerFree is nook_container_free().
func ContainerFree(c Container) { C.nook_container_free(conp(c)) }

// ContainerID is nook_container_id().
func ContainerID(c Container) string { return C.GoString(C.nook_container_id(conp(c))) }

// ContainerPid is nook_container_pid().
func ContainerPid(c Container) int { return int(C.nook_container_pid(conp(c))) }

// ContainerStart is nook_container_start().
func ContainerStart(c Container) *Error {
	var cerr *C.nook_error_t
	if ret := C.nook_container_start(conp(c), &cerr); ret < 0 {
		return takeError(ret, cerr)
	}
	return nil
}

// ContainerWait is nook_container_wait().
func ContainerWait(c Container) (int, *Error) {
	var code C.int
	var cerr *C.nook_error_t
	if ret := C.nook_container_wait(conp(c), &code, &cerr); ret < 0 {
		return 0, takeError(ret, cerr)
	}
	return int(code), nil
}

// ContainerTryWait is nook_container_try_wait().
func ContainerTryWait(c Container) (int, bool, *Error) {
	var code C.int
	var cerr *C.nook_error_t
	ret := C.nook_container_try_wait(conp(c), &code, &cerr)
	if ret < 0 {
		return 0, false, takeError(ret, cerr)
	}
	return int(code), ret == 1, nil
}

// ContainerKill is nook_container_kill().
func ContainerKill(c Container, sig int, flags uint32) *Error {
	var cerr *C.nook_error_t
	if ret := C.nook_container_kill(conp(c), C.int(sig), C.uint32_t(flags), &cerr); ret < 0 {
		return takeError(ret, cerr)
	}
	return nil
}

// ContainerDelete is nook_container_delete().
func ContainerDelete(c Container, flags uint32) *Error {
	var cerr *C.nook_error_t
	if ret := C.nook_container_delete(conp(c), C.uint32_t(flags), &cerr); ret < 0 {
		return takeError(ret, cerr)
	}
	return nil
}

// ContextDelete is nook_context_delete().
func ContextDelete(ctx Context, id string, flags uint32) *Error {
	cid := C.CString(id)
	defer free(cid)
	var cerr *C.nook_error_t
	if ret := C.nook_context_delete(ctxp(ctx), cid, C.uint32_t(flags), &cerr); ret < 0 {
		return takeError(ret, cerr)
	}
	return nil
}

// ContainerStatus is nook_container_status().
func ContainerStatus(c Container) (int, *Error) {
	var st C.nook_status_t
	var cerr *C.nook_error_t
	if ret := C.nook_container_status(conp(c), &st, &cerr); ret < 0 {
		return 0, takeError(ret, cerr)
	}
	return int(st), nil
}

// ContainerState is nook_container_state().
func ContainerState(c Container) (string, *Error) {
	var js *C.char
	var cerr *C.nook_error_t
	if ret := C.nook_container_state(conp(c), &js, &cerr); ret < 0 {
		return "", takeError(ret, cerr)
	}
	return takeString(js), nil
}

// ContainerPause is nook_container_pause().
func ContainerPause(c Container) *Error {
	var cerr *C.nook_error_t
	if ret := C.nook_container_pause(conp(c), &cerr); ret < 0 {
		return takeError(ret, cerr)
	}
	return nil
}

// ContainerResume is nook_container_resume().
func ContainerResume(c Container) *Error {
	var cerr *C.nook_error_t
	if ret := C.nook_container_resume(conp(c), &cerr); ret < 0 {
		return takeError(ret, cerr)
	}
	return nil
}

// ContainerUpdate is nook_container_update().
func ContainerUpdate(c Container, resourcesJSON string) *Error {
	cres := C.CString(resourcesJSON)
	defer free(cres)
	var cerr *C.nook_error_t
	if ret := C.nook_container_update(conp(c), cres, &cerr); ret < 0 {
		return takeError(ret, cerr)
	}
	return nil
}

// ContainerStats is nook_container_stats().
func ContainerStats(c Container) (string, *Error) {
	var js *C.char
	var cerr *C.nook_error_t
	if ret := C.nook_container_stats(conp(c), &js, &cerr); ret < 0 {
		return "", takeError(ret, cerr)
	}
	return takeString(js), nil
}

// ContainerProcesses is nook_container_processes().
func ContainerProcesses(c Container) (string, *Error) {
	var js *C.char
	var cerr *C.nook_error_t
	if ret := C.nook_container_processes(conp(c), &js, &cerr); ret < 0 {
		return "", takeError(ret, cerr)
	}
	return takeString(js), nil
}

// ExecOpts mirrors nook_exec_opts_t.
type ExecOpts struct {
	PidFile       string
	ConsoleSocket string
	PreserveFDs   uint32
	Flags         uint32
}

// ContainerExec is nook_container_exec(); o may be nil.
func ContainerExec(c Container, processJSON string, o *ExecOpts) (Process, *Error) {
	cjs := C.CString(processJSON)
	defer free(cjs)
	var p *C.nook_process_t
	var cerr *C.nook_error_t
	var ret C.int
	if o == nil {
		ret = C.nook_container_exec(conp(c), cjs, nil, &p, &cerr)
	} else {
		var co C.nook_exec_opts_t
		co.struct_size = C.size_t(unsafe.Sizeof(co))
		co.pid_file = cstring(o.PidFile)
		defer free(co.pid_file)
		co.console_socket = cstring(o.ConsoleSocket)
		defer free(co.console_socket)
		co.preserve_fds = C.uint32_t(o.PreserveFDs)
		co.flags = C.uint32_t(o.Flags)
		ret = C.nook_container_exec(conp(c), cjs, &co, &p, &cerr)
	}
	if ret < 0 {
		return nil, takeError(ret, cerr)
	}
	return Process(p), nil
}

// ProcessPid is nook_process_pid().
func ProcessPid(p Process) int { return int(C.nook_process_pid(procp(p))) }

// ProcessWait is nook_process_wait().
func ProcessWait(p Process) (int, *Error) {
	var code C.int
	var cerr *C.nook_error_t
	if ret := C.nook_process_wait(procp(p), &code, &cerr); ret < 0 {
		return 0, takeError(ret, cerr)
	}
	return int(code), nil
}

// ProcessKill is nook_process_kill().
func ProcessKill(p Process, sig int) *Error {
	var cerr *C.nook_error_t
	if ret := C.nook_process_kill(procp(p), C.int(sig), &cerr); ret < 0 {
		return takeError(ret, cerr)
	}
	return nil
}

// ProcessFree is nook_process_free().
func ProcessFree(p Process) { C.nook_process_free(procp(p)) }

// CheckpointOpts mirrors nook_checkpoint_opts_t.
type CheckpointOpts struct {
	ImagePath, WorkPath, ParentPath string
	Flags, ManageCgroupsMode        uint32
	EmptyNS                         uint32
}

// ContainerCheckpoint is nook_container_checkpoint().
func ContainerCheckpoint(c Container, o *CheckpointOpts) *Error {
	var co C.nook_checkpoint_opts_t
	co.struct_size = C.size_t(unsafe.Sizeof(co))
	co.image_path = cstring(o.ImagePath)
	defer free(co.image_path)
	co.work_path = cstring(o.WorkPath)
	defer free(co.work_path)
	co.parent_path = cstring(o.ParentPath)
	defer free(co.parent_path)
	co.flags = C.uint32_t(o.Flags)
	co.manage_cgroups_mode = C.uint32_t(o.ManageCgroupsMode)
	co.empty_ns = C.uint32_t(o.EmptyNS)
	var cerr *C.nook_error_t
	if ret := C.nook_container_checkpoint(conp(c), &co, &cerr); ret < 0 {
		return takeError(ret, cerr)
	}
	return nil
}

// RestoreOpts mirrors nook_restore_opts_t.
type RestoreOpts struct {
	ImagePath, WorkPath, PidFile, ConsoleSocket string
	LsmProfile, LsmMountContext                 string
	Flags, ManageCgroupsMode                    uint32
	EmptyNS                                     uint32
}

// ContextRestore is nook_context_restore().
func ContextRestore(ctx Context, id, bundle string, o *RestoreOpts) (Container, *Error) {
	cid, cbundle := C.CString(id), C.CString(bundle)
	defer free(cid)
	defer free(cbundle)
	var co C.nook_restore_opts_t
	co.struct_size = C.size_t(unsafe.Sizeof(co))
	co.image_path = cstring(o.ImagePath)
	defer free(co.image_path)
	co.work_path = cstring(o.WorkPath)
	defer free(co.work_path)
	co.pid_file = cstring(o.PidFile)
	defer free(co.pid_file)
	co.console_socket = cstring(o.ConsoleSocket)
	defer free(co.console_socket)
	co.lsm_profile = cstring(o.LsmProfile)
	defer free(co.lsm_profile)
	co.lsm_mount_context = cstring(o.LsmMountContext)
	defer free(co.lsm_mount_context)
	co.flags = C.uint32_t(o.Flags)
	co.manage_cgroups_mode = C.uint32_t(o.ManageCgroupsMode)
	co.empty_ns = C.uint32_t(o.EmptyNS)
	var c *C.nook_container_t
	var cerr *C.nook_error_t
	if ret := C.nook_context_restore(ctxp(ctx), cid, cbundle, &co, &c, &cerr); ret < 0 {
		return nil, takeError(ret, cerr)
	}
	return Container(c), nil
}
