/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fork-safety case from C: containers are created one after another
 * while other threads call malloc/free non-stop. A child that takes a lock
 * between clone and execve (malloc's arena lock, most likely) hangs; the
 * watchdog then names the stuck child's system call and kills it.
 *
 *   cc -pthread forksafe.c $(pkg-config --cflags --libs nook)
 *   ./a.out BUNDLE STATE_ROOT [COUNT [CHURN_THREADS]]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <nook.h>

static atomic_int stop;
static atomic_long allocs;

static void *churn(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    void *keep[64] = {0};
    while (!atomic_load(&stop)) {
        int i = rand_r(&seed) % 64;
        free(keep[i]);
        keep[i] = malloc(16 + rand_r(&seed) % 4096);
        atomic_fetch_add(&allocs, 1);
    }
    for (int i = 0; i < 64; i++)
        free(keep[i]);
    return NULL;
}


/* Prints and SIGKILLs every child of this process (all are containers'
 * inits that have not exec'd yet, or have just exited). Returns how many. */
static int kill_children(void)
{
    int n = 0;
    pid_t me = getpid();
    DIR *proc = opendir("/proc");
    struct dirent *e;
    while (proc && (e = readdir(proc))) {
        char path[300], buf[512], wchan[64] = "?";
        int pid = atoi(e->d_name), ppid = 0;
        if (pid <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        char *r = fgets(buf, sizeof buf, f);
        fclose(f);
        char *paren = r ? strrchr(buf, ')') : NULL;
        if (!paren || sscanf(paren + 2, "%*c %d", &ppid) != 1 || ppid != me)
            continue;
        snprintf(path, sizeof path, "/proc/%d/wchan", pid);
        if ((f = fopen(path, "r"))) {
            if (!fgets(wchan, sizeof wchan, f))
                strcpy(wchan, "?");
            fclose(f);
        }
        long nr = -1;
        snprintf(path, sizeof path, "/proc/%d/syscall", pid);
        if ((f = fopen(path, "r"))) {
            if (fscanf(f, "%ld", &nr) != 1)
                nr = -1;
            fclose(f);
        }
        fprintf(stderr, "HANG: child %d sleeps in %s, system call %ld%s\n", pid, wchan, nr,
                nr == 202 ? " (futex: a lock taken between clone and execve)" : "");
        kill(pid, SIGKILL);
        n++;
    }
    if (proc)
        closedir(proc);
    return n;
}

static atomic_int hung;

static void *watchdog(void *arg)
{
    atomic_int *progress = arg;
    int last = -1, still = 0;
    while (!atomic_load(&stop)) {
        sleep(1);
        int now = atomic_load(progress);
        if (now != last) {
            last = now, still = 0;
            continue;
        }
        if (++still < 10)
            continue;
        fprintf(stderr, "forksafe: no progress for 10s at container %d\n", now);
        atomic_store(&hung, 1);
        kill_children(); /* unblocks the create, which then cleans up */
        still = 0;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s BUNDLE STATE_ROOT [COUNT [CHURN_THREADS]]\n", argv[0]);
        return 2;
    }
    const char *bundle = argv[1], *root = argv[2];
    int count = argc > 3 ? atoi(argv[3]) : 200;
    int nchurn = argc > 4 ? atoi(argv[4]) : 4;
    atomic_int progress = 0;
    nook_context_t *ctx = NULL;
    nook_error_t *err = NULL;
    pthread_t threads[64], dog;

    if (nook_context_new(root, &ctx, &err) < 0) {
        fprintf(stderr, "%s\n", err->message);
        return 1;
    }
    for (int i = 0; i < nchurn && i < 64; i++)
        pthread_create(&threads[i], NULL, churn, (void *)(uintptr_t)(i + 1));
    pthread_create(&dog, NULL, watchdog, &progress);

    int failed = 0;
    int done = 0;
    for (int i = 0; i < count && !atomic_load(&hung); i++, done++) {
        char id[64];
        int code = -1;
        snprintf(id, sizeof id, "forksafe-%d", i);
        if (nook_context_run(ctx, id, bundle, NULL, &code, &err) < 0 || code != 0) {
            fprintf(stderr, "%s: %s (exit %d)\n", id, err ? err->message : "?", code);
            nook_error_free(err);
            err = NULL;
            failed++;
        }
        atomic_fetch_add(&progress, 1);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < nchurn && i < 64; i++)
        pthread_join(threads[i], NULL);
    pthread_join(dog, NULL);
    nook_context_free(ctx);
    printf("forksafe: %d containers, %d failed%s, %ld allocations on %d other threads\n", done, failed,
           atomic_load(&hung) ? " (stopped at the first hang)" : "",
           atomic_load(&allocs), nchurn);
    return failed != 0;
}
