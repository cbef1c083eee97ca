package nook_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"nook.dev/nook"
)

// ptraceBundle is examples/hello running /bin/true with CAP_SYS_PTRACE in
// its bounding set and no user namespace: a container that could open
// /proc/PID/exe of nook's process.
func ptraceBundle(t *testing.T) string {
	t.Helper()
	bundle := newBundle(t, "/bin/true")
	path := filepath.Join(bundle, "config.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	caps := spec["process"].(map[string]any)["capabilities"].(map[string]any)
	caps["bounding"] = append(caps["bounding"].([]any), "CAP_SYS_PTRACE")
	out, _ := json.Marshal(spec)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return bundle
}

// Unsealed, the library refuses the container; the same program after
// ReexecSealed (a child run of this test binary) runs it.
func TestReexecSealed(t *testing.T) {
	bundle := ptraceBundle(t)
	ctx := newContext(t, bundle)
	_, err := ctx.Create("ptrace", bundle, nil)
	var nerr *nook.Error
	if !errors.As(err, &nerr) || nerr.Kind != nook.KindInvalidConfig {
		t.Fatalf("create unsealed: %v", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSealedChild$", "-test.v")
	cmd.Env = append(os.Environ(), "NOOK_TEST_SEALED_BUNDLE="+bundle, "NOOK_TEST_SEALED_ROOT="+filepath.Join(t.TempDir(), "state"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sealed child: %v\n%s", err, out)
	}
}

// TestSealedChild is TestReexecSealed's child: it seals itself, then runs
// the container the unsealed parent was refused.
func TestSealedChild(t *testing.T) {
	bundle := os.Getenv("NOOK_TEST_SEALED_BUNDLE")
	if bundle == "" {
		t.Skip("run by TestReexecSealed")
	}
	if err := nook.ReexecSealed(); err != nil {
		t.Fatal(err)
	}
	ctx, err := nook.NewContext(os.Getenv("NOOK_TEST_SEALED_ROOT"))
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	if code, err := ctx.Run("sealed", bundle, nil); err != nil || code != 0 {
		t.Fatalf("run sealed: %d, %v", code, err)
	}
}
