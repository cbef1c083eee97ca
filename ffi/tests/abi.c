/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Contract tests of the C ABI that need no container: NULL handling, the
 * error object, extensible-struct rules, unknown flags, versions, and
 * calls from many threads at once. Run by ffi/test.sh:
 *
 *   cc -pthread abi.c $(pkg-config --cflags --libs nook) && ./a.out STATE_ROOT
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nook.h>

static int failures, checks;

#define CHECK(cond, ...)                                              \
    do {                                                              \
        checks++;                                                     \
        if (!(cond)) {                                                \
            failures++;                                               \
            fprintf(stderr, "%s:%d: FAIL: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                             \
            fputc('\n', stderr);                                      \
        }                                                             \
    } while (0)

/* Expects ret == -want with an error object of the given errno and kind. */
static void expect_err(const char *what, int ret, nook_error_t *err, int want, nook_error_kind_t kind)
{
    CHECK(ret == -want, "%s: returned %d, want %d", what, ret, -want);
    CHECK(err != NULL, "%s: no error object", what);
    if (err) {
        CHECK(err->saved_errno == want, "%s: saved_errno %d", what, err->saved_errno);
        CHECK(err->kind == kind, "%s: kind %d, want %d", what, (int)err->kind, (int)kind);
        CHECK(err->message && err->message[0], "%s: empty message", what);
    }
    nook_error_free(err);
}

static void *features_loop(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++) {
        char *json = NULL;
        if (nook_features(&json, NULL) != 0 || json == NULL || json[0] != '{')
            return (void *)1;
        nook_string_free(json);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *root = argc > 1 ? argv[1] : "/tmp/nook-abi-test";
    nook_context_t *ctx = NULL;
    nook_container_t *c = NULL;
    nook_error_t *err = (nook_error_t *)0x1; /* must be reset to NULL */
    char *json = NULL;
    int ret, code;

    CHECK(nook_abi_version() == NOOK_ABI_VERSION, "abi %u", nook_abi_version());
    CHECK(strlen(nook_version()) > 0, "empty version");

    ret = nook_context_new(root, &ctx, &err);
    CHECK(ret == 0 && ctx != NULL && err == NULL, "context_new: %d", ret);

    /* NULL everywhere: -EINVAL, an INVALID_ARGUMENT error, no crash. */
    ret = nook_context_new(root, NULL, &err);
    expect_err("context_new(NULL out)", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    ret = nook_container_create(NULL, "x", "/nonexistent", NULL, &c, &err);
    expect_err("create(NULL ctx)", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    ret = nook_container_create(ctx, NULL, "/nonexistent", NULL, &c, &err);
    expect_err("create(NULL id)", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    ret = nook_container_start(NULL, &err);
    expect_err("start(NULL)", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    ret = nook_container_wait(NULL, &code, &err);
    expect_err("wait(NULL)", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    ret = nook_container_state(NULL, &json, &err);
    expect_err("state(NULL)", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    ret = nook_context_list(ctx, NULL, &err);
    expect_err("list(NULL out)", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    /* The calls on a running container: NULL handle, NULL in and out. */
    ret = nook_container_pause(NULL, &err);
    expect_err("pause(NULL)", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    ret = nook_container_resume(NULL, &err);
    expect_err("resume(NULL)", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    ret = nook_container_update(NULL, "{}", &err);
    expect_err("update(NULL)", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    ret = nook_container_update(NULL, NULL, &err);
    expect_err("update(NULL, NULL)", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    json = (char *)0x1; /* must stay untouched on failure */
    ret = nook_container_stats(NULL, &json, &err);
    expect_err("stats(NULL)", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    ret = nook_container_processes(NULL, &json, &err);
    expect_err("processes(NULL)", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    CHECK(json == (char *)0x1, "stats/processes wrote *json on failure");
    json = NULL;
    CHECK(nook_container_pause(NULL, NULL) == -EINVAL, "pause(NULL, NULL)");
    CHECK(nook_container_resume(NULL, NULL) == -EINVAL, "resume(NULL, NULL)");
    CHECK(nook_container_update(NULL, "{}", NULL) == -EINVAL, "update(NULL, ..., NULL)");
    CHECK(nook_container_stats(NULL, NULL, NULL) == -EINVAL, "stats(NULL, NULL, NULL)");
    CHECK(nook_container_processes(NULL, NULL, NULL) == -EINVAL, "processes(NULL, NULL, NULL)");
    CHECK(nook_container_pid(NULL) == -EINVAL, "pid(NULL)");
    CHECK(nook_container_id(NULL) == NULL, "id(NULL)");
    nook_container_free(NULL);
    nook_context_free(NULL);
    nook_string_free(NULL);
    nook_error_free(NULL);

    /* err may be NULL: the return value alone tells. */
    CHECK(nook_container_start(NULL, NULL) == -EINVAL, "start(NULL, NULL)");

    /* Library errors carry their errno and kind. */
    ret = nook_container_load(ctx, "nope", &c, &err);
    expect_err("load(unknown)", ret, err, ENOENT, NOOK_ERROR_KIND_NOT_FOUND);
    ret = nook_container_create(ctx, "x", "/nonexistent-bundle", NULL, &c, &err);
    CHECK(ret < 0 && err && err->saved_errno == -ret, "create(missing bundle): %d", ret);
    nook_error_free(err);

    /* Extensible options struct. */
    struct {
        nook_create_opts_t opts;
        unsigned char tail[16];
        unsigned char guard[16];
    } big;
    memset(&big, 0, sizeof big);
    memset(big.guard, 0xAA, sizeof big.guard);

    big.opts.struct_size = sizeof big.opts - 1; /* older than the first version */
    ret = nook_container_create(ctx, "x", "/nonexistent-bundle", &big.opts, &c, &err);
    expect_err("opts too small", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);

    big.opts.struct_size = sizeof big.opts + sizeof big.tail; /* newer header, zero tail: accepted */
    ret = nook_container_create(ctx, "x", "/nonexistent-bundle", &big.opts, &c, &err);
    CHECK(ret < 0 && err && err->kind != NOOK_ERROR_KIND_INVALID_ARGUMENT,
          "larger zero-tailed opts should get past the opts check: %d %s", ret, err ? err->message : "");
    nook_error_free(err);

    big.tail[7] = 1; /* a field this library does not know is set */
    ret = nook_container_create(ctx, "x", "/nonexistent-bundle", &big.opts, &c, &err);
    expect_err("unknown opts field set", ret, err, E2BIG, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    big.tail[7] = 0;

    big.opts.struct_size = 1 << 20;
    ret = nook_container_create(ctx, "x", "/nonexistent-bundle", &big.opts, &c, &err);
    expect_err("absurd struct_size", ret, err, E2BIG, NOOK_ERROR_KIND_INVALID_ARGUMENT);

    big.opts.struct_size = sizeof big.opts;
    big.opts.flags = 1u << 31;
    ret = nook_container_create(ctx, "x", "/nonexistent-bundle", &big.opts, &c, &err);
    expect_err("unknown create flag", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    for (size_t i = 0; i < sizeof big.guard; i++)
        CHECK(big.guard[i] == 0xAA, "guard byte %zu written", i);

    /* Exec and process handles: NULLs, then the nook_exec_opts_t rules. The
     * arguments are checked before the container handle, so a NULL one lets
     * each check be seen without a container; past them, "container is NULL". */
    nook_process_t *p = (nook_process_t *)0x1; /* must stay untouched on failure */
    const char *proc_json = "{\"args\":[\"/bin/true\"],\"cwd\":\"/\"}";
    ret = nook_container_exec(NULL, proc_json, NULL, &p, &err);
    CHECK(err && strstr(err->message, "container is NULL"), "exec(NULL c): %s", err ? err->message : "");
    expect_err("exec(NULL c)", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    ret = nook_container_exec(NULL, NULL, NULL, &p, &err);
    CHECK(err && strstr(err->message, "process_json is NULL"), "exec(NULL json): %s", err ? err->message : "");
    expect_err("exec(NULL json)", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    ret = nook_container_exec(NULL, proc_json, NULL, NULL, &err);
    CHECK(err && strstr(err->message, "process is NULL"), "exec(NULL out): %s", err ? err->message : "");
    expect_err("exec(NULL out)", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    CHECK(nook_container_exec(NULL, proc_json, NULL, &p, NULL) == -EINVAL, "exec(..., NULL err)");
    CHECK(p == (nook_process_t *)0x1, "exec wrote *process on failure");
    CHECK(nook_process_pid(NULL) == -EINVAL, "process_pid(NULL)");
    ret = nook_process_wait(NULL, &code, &err);
    expect_err("process_wait(NULL)", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    ret = nook_process_kill(NULL, 15, &err);
    expect_err("process_kill(NULL)", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    CHECK(nook_process_wait(NULL, NULL, NULL) == -EINVAL, "process_wait(NULL, NULL, NULL)");
    CHECK(nook_process_kill(NULL, 9, NULL) == -EINVAL, "process_kill(NULL, 9, NULL)");
    nook_process_free(NULL);

    struct {
        nook_exec_opts_t opts;
        unsigned char tail[16];
        unsigned char guard[16];
    } ebig;
    memset(&ebig, 0, sizeof ebig);
    memset(ebig.guard, 0xAA, sizeof ebig.guard);

    ebig.opts.struct_size = sizeof ebig.opts - 1;
    ret = nook_container_exec(NULL, proc_json, &ebig.opts, &p, &err);
    CHECK(err && strstr(err->message, "struct_size"), "exec opts too small: %s", err ? err->message : "");
    expect_err("exec opts too small", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);

    ebig.opts.struct_size = sizeof ebig.opts + sizeof ebig.tail; /* newer header, zero tail: accepted */
    ret = nook_container_exec(NULL, proc_json, &ebig.opts, &p, &err);
    CHECK(err && strstr(err->message, "container is NULL"),
          "larger zero-tailed exec opts should get past the opts check: %d %s", ret, err ? err->message : "");
    expect_err("exec opts larger, zero tail", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);

    ebig.tail[3] = 1;
    ret = nook_container_exec(NULL, proc_json, &ebig.opts, &p, &err);
    expect_err("unknown exec opts field set", ret, err, E2BIG, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    ebig.tail[3] = 0;

    ebig.opts.struct_size = 1 << 20;
    ret = nook_container_exec(NULL, proc_json, &ebig.opts, &p, &err);
    expect_err("absurd exec struct_size", ret, err, E2BIG, NOOK_ERROR_KIND_INVALID_ARGUMENT);

    ebig.opts.struct_size = sizeof ebig.opts;
    ebig.opts.flags = NOOK_EXEC_IGNORE_PAUSED; /* known: accepted */
    ret = nook_container_exec(NULL, proc_json, &ebig.opts, &p, &err);
    CHECK(err && strstr(err->message, "container is NULL"), "known exec flag: %s", err ? err->message : "");
    expect_err("known exec flag", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    ebig.opts.flags = 1u << 31;
    ret = nook_container_exec(NULL, proc_json, &ebig.opts, &p, &err);
    CHECK(err && strstr(err->message, "flags"), "unknown exec flag: %s", err ? err->message : "");
    expect_err("unknown exec flag", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    for (size_t i = 0; i < sizeof ebig.guard; i++)
        CHECK(ebig.guard[i] == 0xAA, "exec guard byte %zu written", i);
    CHECK(p == (nook_process_t *)0x1, "exec wrote *process on failure");

    /* Checkpoint and restore: the options are required and checked (the
     * checkpoint's before the container handle), with the extensible-struct
     * and flag rules; none of this needs criu. */
    ret = nook_container_checkpoint(NULL, NULL, &err);
    CHECK(err && strstr(err->message, "opts is NULL"), "checkpoint(NULL opts): %s", err ? err->message : "");
    expect_err("checkpoint(NULL opts)", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    nook_checkpoint_opts_t copts;
    memset(&copts, 0, sizeof copts);
    copts.struct_size = sizeof copts;
    ret = nook_container_checkpoint(NULL, &copts, &err);
    CHECK(err && strstr(err->message, "image_path is NULL"), "checkpoint without image_path: %s",
          err ? err->message : "");
    expect_err("checkpoint without image_path", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    copts.image_path = "/nonexistent-images";
    copts.flags = NOOK_CHECKPOINT_LEAVE_RUNNING | NOOK_CRIU_TCP_ESTABLISHED; /* known: accepted */
    copts.manage_cgroups_mode = NOOK_CGROUPS_MODE_SOFT;
    ret = nook_container_checkpoint(NULL, &copts, &err);
    CHECK(err && strstr(err->message, "container is NULL"), "valid checkpoint opts: %s", err ? err->message : "");
    expect_err("valid checkpoint opts", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    copts.manage_cgroups_mode = 99;
    ret = nook_container_checkpoint(NULL, &copts, &err);
    CHECK(err && strstr(err->message, "manage_cgroups_mode"), "bad mode: %s", err ? err->message : "");
    expect_err("bad cgroups mode", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    copts.manage_cgroups_mode = 0;
    copts.flags = 1u << 31;
    ret = nook_container_checkpoint(NULL, &copts, &err);
    CHECK(err && strstr(err->message, "flags"), "unknown checkpoint flag: %s", err ? err->message : "");
    expect_err("unknown checkpoint flag", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    copts.flags = 0;
    copts.struct_size = sizeof copts - 1;
    ret = nook_container_checkpoint(NULL, &copts, &err);
    expect_err("checkpoint opts too small", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);

    nook_restore_opts_t ropts;
    memset(&ropts, 0, sizeof ropts);
    ropts.struct_size = sizeof ropts;
    ret = nook_context_restore(ctx, "r1", "/nonexistent-bundle", &ropts, &c, &err);
    CHECK(err && strstr(err->message, "image_path is NULL"), "restore without image_path: %s",
          err ? err->message : "");
    expect_err("restore without image_path", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    ropts.image_path = "/nonexistent-images";
    ropts.flags = 1u << 31;
    ret = nook_context_restore(ctx, "r1", "/nonexistent-bundle", &ropts, &c, &err);
    CHECK(err && strstr(err->message, "flags"), "unknown restore flag: %s", err ? err->message : "");
    expect_err("unknown restore flag", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    ret = nook_context_restore(ctx, "r1", "/nonexistent-bundle", NULL, &c, &err);
    expect_err("restore(NULL opts)", ret, err, EINVAL, NOOK_ERROR_KIND_INVALID_ARGUMENT);
    CHECK(c == NULL, "restore wrote *container on failure");

    /* Nothing was created by any of that. */
    ret = nook_context_list(ctx, &json, &err);
    CHECK(ret == 0 && json && strcmp(json, "[]") == 0, "list: %d %s", ret, json ? json : "");
    nook_string_free(json);

    /* The same calls from many threads at once. */
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, features_loop, NULL);
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(t[i], &r);
        CHECK(r == NULL, "thread %d: nook_features failed", i);
    }

    nook_context_free(ctx);
    printf("abi: %d passed, %d failed\n", checks - failures, failures);
    return failures != 0;
}
