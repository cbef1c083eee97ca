// trace-text: run BINARY with ARGS under ptrace, single-stepping it and every process
// it clones or forks, and write to OUT each distinct address executed inside BINARY's
// own image, in the order first executed, as hex offsets from its load base (the ELF
// virtual address, BINARY being a PIE). A child that execs anything else (the
// container's process, a hook) is let go. Exits with BINARY's exit status.
//
// Used by tools/text-order.sh to find which functions nook's commands execute, so the
// linker can place them together (see that script for why). Single-stepping costs
// ~25 us per instruction: ~1 minute for one `nook run`.
//
// Usage: trace-text OUT BINARY ARGS...
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

static dev_t img_dev;
static ino_t img_ino;

/* The load base and text end of the traced binary in process `pid`, or 0 if it is not mapped. */
static int image_of(pid_t pid, uintptr_t *base, uintptr_t *end) {
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/maps", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    *base = 0; *end = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi, off, ino; unsigned maj, min; char perm[5];
        if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu", &lo, &hi, perm, &off, &maj, &min, &ino) != 7) continue;
        if (ino != img_ino || makedev(maj, min) != img_dev) continue;
        if (off == 0 && !*base) *base = lo;
        if (hi > *end) *end = hi;
    }
    fclose(f);
    return *base != 0;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: trace-text OUT BINARY ARGS...\n"); return 2; }
    struct stat st;
    if (stat(argv[2], &st)) { perror(argv[2]); return 2; }
    img_dev = st.st_dev; img_ino = st.st_ino;
    FILE *out = fopen(argv[1], "w");
    if (!out) { perror(argv[1]); return 2; }
    size_t span = st.st_size;               /* addresses seen, as a bitmap over the file's size */
    uint8_t *seen = calloc(span / 8 + 1, 1);

    pid_t first = fork();
    if (first == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        execv(argv[2], argv + 2);
        _exit(127);
    }
    int status;
    waitpid(first, &status, 0);
    ptrace(PTRACE_SETOPTIONS, first, 0, PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK |
           PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL);
    ptrace(PTRACE_CONT, first, 0, 0);       /* run to the exec stop */
    uintptr_t base = 0, end = 0;            /* one image: every traced process shares it (fork/clone) */
    int exit_code = 1;
    long steps = 0, distinct = 0;
    for (;;) {
        pid_t pid = waitpid(-1, &status, __WALL);
        if (pid < 0) { if (errno == EINTR) continue; break; }
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            if (pid == first) exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            continue;
        }
        int sig = WSTOPSIG(status), event = status >> 16, inject = 0;
        if (event == PTRACE_EVENT_EXEC) {
            uintptr_t b, e;
            if (!image_of(pid, &b, &e)) { ptrace(PTRACE_DETACH, pid, 0, 0); continue; }
            if (base && b != base) { ptrace(PTRACE_DETACH, pid, 0, 0); continue; } /* a second image: not followed */
            base = b; end = e;
        } else if (event) {
            /* a new child (clone/fork/vfork): it starts stopped and is stepped when its stop arrives */
        } else if (sig == SIGTRAP) {
            struct user_regs_struct r;
            if (ptrace(PTRACE_GETREGS, pid, 0, &r) == 0 && base && r.rip >= base && r.rip < end) {
                uintptr_t a = r.rip - base;
                if (a < span && !(seen[a / 8] & (1 << (a % 8)))) {
                    seen[a / 8] |= 1 << (a % 8);
                    fprintf(out, "%lx\n", (unsigned long)a);
                    distinct++;
                }
            }
            steps++;
        } else if (sig != SIGSTOP) {
            inject = sig;                   /* the tracee's own signal: deliver it */
        }
        if (ptrace(PTRACE_SINGLESTEP, pid, 0, inject) < 0 && errno != ESRCH)
            ptrace(PTRACE_CONT, pid, 0, inject);
    }
    fclose(out);
    fprintf(stderr, "trace-text: %ld steps, %ld distinct addresses\n", steps, distinct);
    return exit_code;
}
