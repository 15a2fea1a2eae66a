package compile

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vigil-sec/vigil/pkg/buildid"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// digests makes the hashes binaryDigests may name.
var digests = map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New, "sha384": sha512.New384,
	"sha512": sha512.New}

// verifyDigests checks a uprobes entry's binary against its binaryDigests,
// as Tetragon does: the binary must match one of them. It returns the
// identity of the file it checked, which the hooks are attached to and
// nothing else (a file put in its place later is refused), and, when no
// digest matches but ignore.digestVerificationFailure is set, why the
// entry is skipped; any other mismatch is an error.
func verifyDigests(path string, u *policy.UProbeSpec) (id tracing.FileID, skip string, err error) {
	if len(u.BinaryDigests) == 0 {
		return id, "", nil
	}
	f, err := os.Open(u.Path)
	if err != nil {
		return id, "", fmt.Errorf("%s.path: %w", path, err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return id, "", fmt.Errorf("%s.path: %w", path, err)
	}
	id = tracing.FileID{Dev: st.Dev, Ino: st.Ino}
	have := map[string]string{}
	for _, d := range u.BinaryDigests {
		algo, want, _ := strings.Cut(d, ":")
		if _, ok := have[algo]; !ok {
			if have[algo], err = digestOf(f, algo); err != nil {
				return id, "", fmt.Errorf("%s.binaryDigests: %s: %w", path, u.Path, err)
			}
		}
		if strings.EqualFold(have[algo], want) {
			return id, "", nil
		}
	}
	algo, _, _ := strings.Cut(u.BinaryDigests[0], ":")
	why := fmt.Sprintf("%s.binaryDigests: %s matches none of them (its %s is %s)", path, u.Path, algo, have[algo])
	if u.Ignore != nil && u.Ignore.DigestVerificationFailure {
		return id, why, nil
	}
	return id, "", fmt.Errorf("%s; ignore.digestVerificationFailure skips such a uprobe instead", why)
}

// digestOf is the hex digest algo of the file f: a hash of its content,
// or its GNU build ID.
func digestOf(f *os.File, algo string) (string, error) {
	if algo == "build-id" {
		id, err := buildid.Read(f)
		return hex.EncodeToString(id), err
	}
	h := digests[algo]()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<62)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
