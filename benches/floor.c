/*
 * floor.c - the kernel's floor for starting a container: what any runtime
 * must at least do to run /bin/true in runc's default namespaces.
 *
 * Usage: floor ROOTFS [PROG]   (as root; PROG defaults to /bin/true)
 *        floor --spec ROOTFS CGROUP_NAME [PROG [ARG...]]
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
 *
 * --spec: the "spec floor", the least kernel work any runtime must do to
 * honour the whole default config.json of `runc spec` (root readonly, hostname
 * "runc", the seven default mounts, the device cgroup, default devices,
 * masked and read-only paths, NOFILE rlimit, three capabilities,
 * noNewPrivileges), still with no runtime logic: no state files, no locks, no
 * JSON, no CLI, the config is compiled in. The parent makes a cgroup named
 * CGROUP_NAME in every mounted v1 hierarchy that runc, crun and nook all use
 * (cpu cpuacct cpuset memory devices freezer blkio pids; named hierarchies
 * like name=systemd are left out, the spec does not ask for them), or in
 * /sys/fs/cgroup itself if that is cgroup2 (no device rules there: v2 needs
 * a BPF program, which this floor does not load). A hybrid host's cgroup2 at
 * /sys/fs/cgroup/unified is ignored; side-by-side.sh hides it anyway. The
 * parent removes the cgroups on every path, after the child is reaped (a
 * runtime must remove them too, so that is part of the floor). Exit status:
 * the child's, 125 if the parent failed, 127 if the child failed before exec.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

/* The namespaces of `runc spec`, for both modes. */
#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET)

static char stack[64 * 1024] __attribute__((aligned(16)));
static const char *rootfs, *prog;

static int die(const char *what)
{
	perror(what);
	_exit(127);
}

/* Both modes: nothing propagates back to the host, and the cwd is the
 * rootfs, bound onto itself so that it is a mount pivot_root accepts. */
static void enter_rootfs(void)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL))
		die("mount / rslave");
	if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL))
		die("bind rootfs");
	if (chdir(rootfs))
		die("chdir rootfs");
}

/* Both modes: the cwd becomes /, the old root is detached. */
static void pivot(void)
{
	if (syscall(SYS_pivot_root, ".", "."))
		die("pivot_root");
	if (umount2(".", MNT_DETACH))
		die("umount old root");
	if (chdir("/"))
		die("chdir /");
}

static int child(void *arg)
{
	(void)arg;
	enter_rootfs();
	pivot();
	char *argv[] = {(char *)prog, NULL};
	char *envp[] = {"PATH=/bin", NULL};
	execve(prog, argv, envp);
	return die("execve");
}

/* ---- --spec ------------------------------------------------------------- */

#define CG "/sys/fs/cgroup"

/* The v1 controllers runc, crun and nook all put a container in. */
static const char *const controllers[] = {
	"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
};
#define NCTL (sizeof controllers / sizeof controllers[0])

static struct hier {
	const char *name;	/* controller; "" for a cgroup2 /sys/fs/cgroup */
	char dir[PATH_MAX];	/* the container's cgroup in it */
	int made;		/* dir was created by us: rmdir it */
	int join;		/* its tasks (v1) or cgroup.procs (v2), O_WRONLY */
} hiers[NCTL];
static int nhiers;
static char *const *spec_argv;

/*
 * The default device rules: the spec's "deny all rwm", then the allow list
 * runc's specconv adds (AllowedDevices), the list of nook's
 * src/cgroups/devices.rs, no more: a floor does nothing it need not. The
 * kernel takes one rule per write.
 */
static const char *const allow[] = {
	"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm",
	"c 1:5 rwm", "c 1:9 rwm", "c 136:* rwm", "c 5:2 rwm",
};

/* The default device nodes (runc makes them when /dev is a tmpfs). */
static const struct node {
	const char *path;
	unsigned int major, minor;
} nodes[] = {
	{"dev/null", 1, 3}, {"dev/zero", 1, 5}, {"dev/full", 1, 7},
	{"dev/random", 1, 8}, {"dev/urandom", 1, 9}, {"dev/tty", 5, 0},
};

static const char *const links[][2] = {	/* {target, link} */
	{"/proc/self/fd", "dev/fd"}, {"/proc/self/fd/0", "dev/stdin"},
	{"/proc/self/fd/1", "dev/stdout"}, {"/proc/self/fd/2", "dev/stderr"},
	{"pts/ptmx", "dev/ptmx"},
};

/* config.json of `runc spec` (runc 1.1), linux.maskedPaths and readonlyPaths. */
static const char *const masked[] = {
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
	"/proc/sched_debug", "/sys/firmware", "/proc/scsi",
};
static const char *const readonly[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

/* process.capabilities: bounding = effective = permitted = these three. */
static const int caps[] = {CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE};

/* perror() with the step and the path it failed on; keeps errno. */
static void fail(const char *step, const char *path)
{
	int e = errno;

	fprintf(stderr, "floor: %s %s: %s\n", step, path, strerror(e));
	errno = e;
}

static int sdie(const char *step, const char *path)
{
	fail(step, path);
	_exit(127);
}

static int path(char *buf, const char *dir, const char *name)
{
	if (snprintf(buf, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		fail("path", dir);
		return -1;
	}
	return 0;
}

/* Writes s to dir/name in one write(2). */
static int write_file(const char *dir, const char *name, const char *s, size_t len)
{
	char p[PATH_MAX];
	int fd;

	if (path(p, dir, name))
		return -1;
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		fail("open", p);
		return -1;
	}
	if (write(fd, s, len) != (ssize_t)len) {
		fail("write", p);
		close(fd);
		return -1;
	}
	return close(fd);
}

/* Copies a cpuset file from the hierarchy's root into the new cgroup. */
static int copy_cpuset(const struct hier *h, const char *name)
{
	char root[PATH_MAX], p[PATH_MAX], buf[4096];
	ssize_t n;
	int fd;

	if (path(root, CG, h->name) || path(p, root, name))
		return -1;
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fail("open", p);
		return -1;
	}
	n = read(fd, buf, sizeof buf);
	if (n < 0)
		fail("read", p);
	close(fd);
	if (n < 0)
		return -1;
	return write_file(h->dir, name, buf, n);
}

/* The device cgroup: deny all, then the allow list, one rule per write. */
static int device_rules(const struct hier *h)
{
	char p[PATH_MAX];
	size_t i;
	int fd;

	if (write_file(h->dir, "devices.deny", "a", 1))
		return -1;
	if (path(p, h->dir, "devices.allow"))
		return -1;
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		fail("open", p);
		return -1;
	}
	for (i = 0; i < sizeof allow / sizeof allow[0]; i++) {
		if (write(fd, allow[i], strlen(allow[i])) < 0) {
			fail("write", p);
			fprintf(stderr, "floor: (rule '%s')\n", allow[i]);
			close(fd);
			return -1;
		}
	}
	return close(fd);
}

/*
 * Which hierarchies to use. A controller whose /sys/fs/cgroup/<name> is not a
 * cgroup v1 mount is skipped (never mkdir on the /sys/fs/cgroup tmpfs), and so
 * is one mounted together with an earlier one (cpu,cpuacct behind symlinks:
 * same st_dev), whose directory the first mkdir already made.
 */
static int find_hierarchies(const char *name)
{
	dev_t devs[NCTL];
	struct statfs sfs;
	struct stat st;
	char p[PATH_MAX];
	size_t i;
	int j;

	if (statfs(CG, &sfs)) {
		fail("statfs", CG);
		return -1;
	}
	if (sfs.f_type == CGROUP2_SUPER_MAGIC) {
		hiers[0].name = "";
		hiers[0].join = -1;
		nhiers = 1;
		return path(hiers[0].dir, CG, name);
	}
	for (i = 0; i < NCTL; i++) {
		if (path(p, CG, controllers[i]))
			return -1;
		if (statfs(p, &sfs)) {
			if (errno == ENOENT)
				continue;
			fail("statfs", p);
			return -1;
		}
		if (sfs.f_type != CGROUP_SUPER_MAGIC)
			continue;
		if (stat(p, &st)) {
			fail("stat", p);
			return -1;
		}
		for (j = 0; j < nhiers && devs[j] != st.st_dev; j++)
			;
		if (j < nhiers)
			continue;
		devs[nhiers] = st.st_dev;
		hiers[nhiers].name = controllers[i];
		hiers[nhiers].join = -1;
		if (path(hiers[nhiers].dir, p, name))
			return -1;
		nhiers++;
	}
	if (!nhiers) {
		errno = ENOENT;
		fail("no cgroup hierarchy mounted under", CG);
		return -1;
	}
	return 0;
}

/*
 * Closes the join fds and removes every cgroup we made; only those, so an
 * existing cgroup of the same name (mkdir: EEXIST) is never touched. After
 * waitpid the cgroups are empty; EBUSY is retried briefly all the same.
 */
static int remove_cgroups(void)
{
	int i, tries, rc = 0;

	for (i = nhiers - 1; i >= 0; i--) {
		if (hiers[i].join >= 0)
			close(hiers[i].join);
		hiers[i].join = -1;
		if (!hiers[i].made)
			continue;
		for (tries = 0; rmdir(hiers[i].dir); tries++) {
			if (errno != EBUSY || tries == 100) {
				fail("rmdir", hiers[i].dir);
				rc = -1;
				break;
			}
			usleep(1000);
		}
		hiers[i].made = 0;
	}
	return rc;
}

/*
 * mkdir the container's cgroup in each hierarchy, set it up and open the file
 * the child joins it through. v1: `tasks`, not cgroup.procs - the child writes
 * "0" to move itself, a single thread, which is the cheapest join (no
 * threadgroup-wide lock). cpuset needs cpus and mems set before a task can
 * join; they are copied from the root, as runc does.
 */
static int make_cgroups(void)
{
	char p[PATH_MAX];
	int i;

	for (i = 0; i < nhiers; i++) {
		struct hier *h = &hiers[i];

		if (mkdir(h->dir, 0755)) {
			fail("mkdir", h->dir);
			return -1;
		}
		h->made = 1;
		if (!strcmp(h->name, "cpuset") &&
		    (copy_cpuset(h, "cpuset.cpus") || copy_cpuset(h, "cpuset.mems")))
			return -1;
		if (!strcmp(h->name, "devices") && device_rules(h))
			return -1;
		if (path(p, h->dir, *h->name ? "tasks" : "cgroup.procs"))
			return -1;
		h->join = open(p, O_WRONLY | O_CLOEXEC);
		if (h->join < 0) {
			fail("open", p);
			return -1;
		}
	}
	return 0;
}

/* mkdir a mount point unless it is there. */
static void mkpoint(const char *p)
{
	if (mkdir(p, 0755) && errno != EEXIST)
		sdie("mkdir", p);
}

static void smount(const char *src, const char *dst, const char *type,
		   unsigned long flags, const char *data)
{
	if (mount(src, dst, type, flags, data))
		sdie("mount", dst);
}

/*
 * /sys/fs/cgroup as runc sets it up for v1: a tmpfs holding, per hierarchy, a
 * read-only bind of the container's own cgroup, then the tmpfs made read-only.
 * v2: the container's cgroup bound read-only onto /sys/fs/cgroup itself.
 * Paths relative to the rootfs (the cwd); the sources are still the host's.
 */
static void mount_cgroups(void)
{
	const unsigned long ro = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC | MS_NODEV;
	char p[PATH_MAX];
	int i;

	if (!*hiers[0].name) {
		smount(hiers[0].dir, "sys/fs/cgroup", NULL, MS_BIND | MS_REC, NULL);
		smount(NULL, "sys/fs/cgroup", NULL, ro, NULL);
		return;
	}
	smount("tmpfs", "sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RELATIME, "mode=755");
	for (i = 0; i < nhiers; i++) {
		if (path(p, "sys/fs/cgroup", hiers[i].name))
			_exit(127);
		mkpoint(p);
		smount(hiers[i].dir, p, NULL, MS_BIND | MS_REC, NULL);
		smount(NULL, p, NULL, ro, NULL);
	}
	smount(NULL, "sys/fs/cgroup", NULL,
	       MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RELATIME, NULL);
}

/* The default device nodes and symlinks in the new /dev tmpfs. */
static void populate_dev(void)
{
	mode_t old = umask(0);	/* the nodes must be 0666 */
	size_t i;

	for (i = 0; i < sizeof nodes / sizeof nodes[0]; i++)
		if (mknod(nodes[i].path, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)))
			sdie("mknod", nodes[i].path);
	umask(old);
	for (i = 0; i < sizeof links / sizeof links[0]; i++)
		if (symlink(links[i][0], links[i][1]))
			sdie("symlink", links[i][1]);
}

/*
 * maskedPaths: bind /dev/null over the path; if that says ENOTDIR the path is
 * a directory and gets a read-only tmpfs instead; ENOENT: nothing to mask.
 * Trying the bind first (as runc does) costs one mount(2) for a file and two
 * for a directory, where a stat first would always cost two.
 */
static void mask_paths(void)
{
	size_t i;

	for (i = 0; i < sizeof masked / sizeof masked[0]; i++) {
		if (!mount("/dev/null", masked[i], NULL, MS_BIND, NULL) || errno == ENOENT)
			continue;
		if (errno != ENOTDIR)
			sdie("mount /dev/null over", masked[i]);
		smount("tmpfs", masked[i], "tmpfs", MS_RDONLY, NULL);
	}
	for (i = 0; i < sizeof readonly / sizeof readonly[0]; i++) {
		if (mount(readonly[i], readonly[i], NULL, MS_BIND | MS_REC, NULL)) {
			if (errno == ENOENT)
				continue;
			sdie("bind", readonly[i]);
		}
		smount(NULL, readonly[i], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL);
	}
}

/*
 * process: NOFILE 1024, uid/gid 0 with no supplementary groups, the three
 * capabilities in the bounding, effective and permitted sets, no_new_privs.
 * The spec also lists them as ambient, but with an empty inheritable set the
 * kernel refuses PR_CAP_AMBIENT_RAISE (runc and nook both try, get EPERM and
 * go on), so the floor does not try.
 */
static void set_process(void)
{
	struct rlimit nofile = {1024, 1024};
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2] = {{0, 0, 0}, {0, 0, 0}};
	unsigned long keep = 0;
	size_t i;
	int cap;

	if (setrlimit(RLIMIT_NOFILE, &nofile))
		die("setrlimit NOFILE");
	for (i = 0; i < sizeof caps / sizeof caps[0]; i++) {
		keep |= 1UL << caps[i];
		data[caps[i] / 32].effective |= 1U << (caps[i] % 32);
		data[caps[i] / 32].permitted |= 1U << (caps[i] % 32);
	}
	/* Up to the kernel's last capability: it answers EINVAL past it. */
	for (cap = 0; cap < 64; cap++) {
		if (keep & (1UL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)) {
			if (errno == EINVAL && cap > CAP_SETFCAP)
				break;
			die("prctl PR_CAPBSET_DROP");
		}
	}
	if (setgroups(0, NULL))
		die("setgroups");
	if (setresgid(0, 0, 0))
		die("setresgid");
	if (setresuid(0, 0, 0))
		die("setresuid");
	if (syscall(SYS_capset, &hdr, data))
		die("capset");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		die("prctl PR_SET_NO_NEW_PRIVS");
}

static int spec_child(void *arg)
{
	static char *const envp[] = {"PATH=/bin", NULL};
	char p[PATH_MAX];
	int i;

	(void)arg;
	/* Join first: everything below is charged to the container's cgroups. */
	for (i = 0; i < nhiers; i++) {
		if (write(hiers[i].join, "0", 1) != 1)
			sdie("join cgroup", hiers[i].dir);
		close(hiers[i].join);
	}
	/* From here on paths are relative to the new rootfs mount. */
	enter_rootfs();

	/* mounts, in the order of the spec */
	mkpoint("proc");
	smount("proc", "proc", "proc", 0, NULL);
	/* no MS_NODEV (the spec has no nodev): the device nodes must work */
	mkpoint("dev");
	smount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
	mkpoint("dev/pts");
	smount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
	       "newinstance,ptmxmode=0666,mode=0620,gid=5");
	mkpoint("dev/shm");
	smount("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=1777,size=65536k");
	mkpoint("dev/mqueue");
	smount("mqueue", "dev/mqueue", "mqueue", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL);
	mkpoint("sys");
	smount("sysfs", "sys", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, NULL);
	if (path(p, "sys", "fs/cgroup"))
		_exit(127);
	mkpoint(p);
	mount_cgroups();
	populate_dev();

	pivot();
	/* root.readonly */
	if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL))
		die("remount / read-only");
	/* after pivot_root: /proc is the container's, /dev/null the new node */
	mask_paths();
	if (sethostname("runc", 4))
		die("sethostname");
	set_process();
	execve(spec_argv[0], spec_argv, envp);
	return sdie("execve", spec_argv[0]);
}

static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
	caught = sig;
}

static int spec_main(int argc, char **argv)
{
	static char *const deflt[] = {"/bin/true", NULL};
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	const char *name;
	struct sigaction sa;
	int status = 0, rc = 125;
	pid_t pid = -1;
	size_t i;

	if (argc < 4) {
		fprintf(stderr, "usage: %s --spec ROOTFS CGROUP_NAME [PROG [ARG...]]\n", argv[0]);
		return 2;
	}
	rootfs = argv[2];
	name = argv[3];
	spec_argv = argc > 4 ? argv + 4 : deflt;
	/* One new directory per hierarchy, never an existing cgroup. */
	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
		fprintf(stderr, "floor: CGROUP_NAME must be a plain name, got '%s'\n", name);
		return 2;
	}
	/*
	 * SIGINT, SIGTERM, SIGHUP must not kill the parent between mkdir and
	 * rmdir: they are caught (the handlers do not survive the child's
	 * execve) and reported in the exit status after the cleanup.
	 */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		if (sigaction(sigs[i], &sa, NULL)) {
			perror("sigaction");
			return 125;
		}
	}

	if (find_hierarchies(name) || make_cgroups())
		goto out;
	pid = clone(spec_child, stack + sizeof stack, NS_FLAGS | SIGCHLD, NULL);
	if (pid < 0) {
		perror("clone");
		goto out;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			/* cannot happen for our own child; the cgroup rmdir will say EBUSY */
			perror("waitpid");
			goto out;
		}
	}
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
out:
	if (remove_cgroups())
		rc = 125;
	if (caught)
		rc = 128 + caught;
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "--spec"))
		return spec_main(argc, argv);
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s ROOTFS [PROG]\n", argv[0]);
		return 2;
	}
	rootfs = argv[1];
	prog = argc == 3 ? argv[2] : "/bin/true";
	pid_t pid = clone(child, stack + sizeof stack, NS_FLAGS | SIGCHLD, NULL);
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