/*
 * floor.c - the kernel's floor for starting a container: what any runtime
 * must at least do to run /bin/true in runc's default namespaces.
 *
 * Usage: floor ROOTFS [PROG]   (as root; PROG defaults to /bin/true)
 *
 * clone() with the namespaces of `runc spec` (mount, uts, ipc, pid, net),
 * and in the child: make / a slave recursively (so nothing propagates back to
 * the host), bind the rootfs onto itself, pivot_root into it, detach the old
 * root and exec PROG. The parent waits and exits with the child's status.
 * Nothing else: no cgroups, no /proc, /dev or masked paths, no state, no
 * capabilities - so it is a lower bound, not a runtime. benches/side-by-side.sh
 * compiles it with `cc -O2` and times it next to the runtimes in every round.
 * Leaves nothing behind: every mount lives in the child's mount namespace,
 * which dies with it.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char stack[64 * 1024] __attribute__((aligned(16)));
static const char *rootfs, *prog;

static int die(const char *what)
{
	perror(what);
	_exit(127);
}

static int child(void *arg)
{
	(void)arg;
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL))
		die("mount / rslave");
	if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL))
		die("bind rootfs");
	if (chdir(rootfs))
		die("chdir rootfs");
	if (syscall(SYS_pivot_root, ".", "."))
		die("pivot_root");
	if (umount2(".", MNT_DETACH))
		die("umount old root");
	if (chdir("/"))
		die("chdir /");
	char *argv[] = {(char *)prog, NULL};
	char *envp[] = {"PATH=/bin", NULL};
	execve(prog, argv, envp);
	return die("execve");
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s ROOTFS [PROG]\n", argv[0]);
		return 2;
	}
	rootfs = argv[1];
	prog = argc == 3 ? argv[2] : "/bin/true";
	int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET | SIGCHLD;
	pid_t pid = clone(child, stack + sizeof stack, flags, NULL);
	if (pid < 0) {
		perror("clone");
		return 125;
	}
	int status;
	if (waitpid(pid, &status, 0) < 0) {
		perror("waitpid");
		return 125;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
