package agent

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/probe"
)

// TestIMAHashOfTheExecutedFile: imaHash on bprm_check_security (as
// Tetragon's lsm_bprm_check example) denies the exec of one program and
// posts an event with its IMA hash, which is the hash of the file's
// bytes: the Override's verdict waits with the event while the sleepable
// program hashes the file.
func TestIMAHashOfTheExecutedFile(t *testing.T) {
	requires(t, probe.IMAFileHash)
	prog := filepath.Join(t.TempDir(), "ima-true")
	content, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	content = append(content, rand.Text()...) // a file no other test hashes
	if err := os.WriteFile(prog, content, 0o755); err != nil {
		t.Fatal(err)
	}
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: ima-hash}
spec:
  lsmhooks:
  - hook: bprm_check_security
    args: [{index: 0, type: linux_binprm}]
    selectors:
    - matchArgs: [{index: 0, operator: Equal, values: [%q]}]
      matchActions:
      - {action: Override, argError: -1}
      - {action: Post, imaHash: true}
`, prog))
	cmd := exec.Command(prog)
	if err := cmd.Run(); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("exec of %s: %v, want EPERM from the Override", prog, err)
	}
	l := shared.sink.one(t, "process_lsm with the IMA hash", func(ev *event.Event) bool {
		return ev.ProcessLsm != nil && ev.ProcessLsm.PolicyName == "ima-hash"
	}).ProcessLsm
	if l.FunctionName != "bprm_check_security" || len(l.Args) != 1 || l.Args[0].LinuxBinprmArg == nil || l.Args[0].LinuxBinprmArg.Path != prog {
		t.Errorf("event %+v", l)
	}
	algo, digest, _ := strings.Cut(l.ImaHash, ":")
	hashes := map[string]func() hash.Hash{"md5": md5.New, "sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}
	h, ok := hashes[algo]
	if !ok {
		t.Fatalf("ima_hash %q: want one of md5, sha1, sha256, sha512 and the digest", l.ImaHash)
	}
	sum := h()
	sum.Write(content)
	if want := hex.EncodeToString(sum.Sum(nil)); digest != want {
		t.Errorf("ima_hash %s, want %s:%s", l.ImaHash, algo, want)
	}
}
