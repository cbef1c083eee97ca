/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Runs a container through libnook's C API: create, state, start, wait,
 * delete.
 *
 *   ./hello [BUNDLE [STATE_ROOT [ID]]]
 *
 * Defaults: the bundle examples/hello, the state root /run/nook and the id
 * "nook-c-example". Must run as root. Exits with the container's exit code.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <nook.h>

/* Prints a failed call's error and releases it. */
static int fail(const char *what, int ret, nook_error_t *err)
{
    fprintf(stderr, "%s: %s (errno %d, kind %d, returned %d)\n", what,
            err ? err->message : "?", err ? err->saved_errno : -ret,
            err ? (int)err->kind : 0, ret);
    nook_error_free(err);
    return 1;
}

int main(int argc, char **argv)
{
    const char *bundle = argc > 1 ? argv[1] : "examples/hello";
    const char *root = argc > 2 ? argv[2] : "/run/nook";
    const char *id = argc > 3 ? argv[3] : "nook-c-example";
    nook_context_t *ctx = NULL;
    nook_container_t *c = NULL, *missing = NULL;
    nook_error_t *err = NULL;
    char *json = NULL;
    int ret, code = -1;

    /* The container shares our stdout: keep our lines in order with its own. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (nook_abi_version() != NOOK_ABI_VERSION) {
        fprintf(stderr, "libnook ABI %u, header ABI %u\n", nook_abi_version(), NOOK_ABI_VERSION);
        return 1;
    }
    printf("libnook %s (ABI %u)\n", nook_version(), nook_abi_version());

    if ((ret = nook_context_new(root, &ctx, &err)) < 0)
        return fail("nook_context_new", ret, err);

    /* Errors carry an errno: loading an unknown container is -ENOENT. */
    ret = nook_container_load(ctx, "no-such-container", &missing, &err);
    if (ret != -ENOENT || err == NULL || err->kind != NOOK_ERROR_KIND_NOT_FOUND) {
        fprintf(stderr, "expected -ENOENT from nook_container_load, got %d\n", ret);
        return 1;
    }
    printf("load(no-such-container): %s\n", err->message);
    nook_error_free(err);
    err = NULL;

    /* The options struct carries its own size, so it can grow. */
    nook_create_opts_t opts = { .struct_size = sizeof opts };
    if ((ret = nook_container_create(ctx, id, bundle, &opts, &c, &err)) < 0)
        return fail("nook_container_create", ret, err);

    if ((ret = nook_container_state(c, &json, &err)) < 0)
        return fail("nook_container_state", ret, err);
    printf("created %s, pid %d: %s\n", nook_container_id(c), nook_container_pid(c), json);
    nook_string_free(json);
    json = NULL;

    if ((ret = nook_container_start(c, &err)) < 0) {
        fail("nook_container_start", ret, err);
        nook_container_delete(c, NOOK_DELETE_FORCE, NULL);
        return 1;
    }
    if ((ret = nook_container_wait(c, &code, &err)) < 0)
        return fail("nook_container_wait", ret, err);

    nook_status_t status = 0;
    if ((ret = nook_container_status(c, &status, &err)) < 0)
        return fail("nook_container_status", ret, err);
    printf("exited with %d, status %s\n", code, status == NOOK_STATUS_STOPPED ? "stopped" : "?");

    if ((ret = nook_container_delete(c, 0, &err)) < 0)
        return fail("nook_container_delete", ret, err);
    nook_container_free(c);

    if ((ret = nook_context_list(ctx, &json, &err)) < 0)
        return fail("nook_context_list", ret, err);
    printf("left in %s: %s\n", root, json);
    nook_string_free(json);
    nook_context_free(ctx);
    return code;
}
