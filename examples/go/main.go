// Command hello runs a container through nook's Go binding: create, state,
// start, wait, delete.
//
//	go run . [-bundle DIR] [-root DIR] [-id ID]
//
// Must run as root; needs libnook installed where pkg-config finds it (see
// ffi/README.md). Exits with the container's exit code.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"nook.dev/nook"
)

func main() {
	bundle := flag.String("bundle", "examples/hello", "OCI bundle directory")
	root := flag.String("root", "/run/nook", "state root")
	id := flag.String("id", "nook-go-example", "container id")
	flag.Parse()

	code, err := run(*root, *id, *bundle)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(root, id, bundle string) (int, error) {
	fmt.Println("libnook", nook.Version())
	ctx, err := nook.NewContext(root)
	if err != nil {
		return 0, err
	}
	defer ctx.Close()

	// Errors unwrap to their errno.
	if _, err := ctx.Load("no-such-container"); !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("expected a not-exist error, got %v", err)
	} else {
		fmt.Println("load(no-such-container):", err)
	}

	c, err := ctx.Create(id, bundle, nil)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	st, err := c.State()
	if err != nil {
		return 0, err
	}
	fmt.Printf("created %s, pid %d, status %s\n", st.ID, st.Pid, st.Status)

	if err := c.Start(); err != nil {
		c.ForceDelete()
		return 0, err
	}
	code, err := c.Wait()
	if err != nil {
		return 0, err
	}
	status, err := c.Status()
	if err != nil {
		return 0, err
	}
	fmt.Printf("exited with %d, status %s\n", code, status)
	if err := c.Delete(); err != nil {
		return 0, err
	}
	left, err := ctx.List()
	if err != nil {
		return 0, err
	}
	fmt.Printf("left in %s: %d containers\n", root, len(left))
	return code, nil
}
