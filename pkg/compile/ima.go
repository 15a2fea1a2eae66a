package compile

import (
	"fmt"

	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// imaHooks are the LSM hooks whose file Tetragon hashes for imaHash
// (sleepable hooks, their first argument a linux_binprm or a file), and
// the program that hashes it.
var imaHooks = map[string]string{
	"bprm_check_security": tracing.AttachLSMIMABprm, "bprm_committed_creds": tracing.AttachLSMIMABprm,
	"bprm_committing_creds": tracing.AttachLSMIMABprm, "bprm_creds_for_exec": tracing.AttachLSMIMABprm,
	"bprm_creds_from_file": tracing.AttachLSMIMABprm,
	"file_ioctl":           tracing.AttachLSMIMAFile, "file_lock": tracing.AttachLSMIMAFile,
	"file_open": tracing.AttachLSMIMAFile, "file_post_open": tracing.AttachLSMIMAFile,
	"file_receive": tracing.AttachLSMIMAFile, "mmap_file": tracing.AttachLSMIMAFile,
}

// imaHashAt is the YAML path of the first imaHash of an lsmhooks entry's
// selectors, "" when none asks for one.
func imaHashAt(path string, h *policy.LsmHookSpec) string {
	for i, sel := range h.Selectors {
		for j, act := range sel.MatchActions {
			if act.ImaHash {
				return fmt.Sprintf("%s.selectors[%d].matchActions[%d].imaHash", path, i, j)
			}
		}
	}
	return ""
}

// imaProgram is the sleepable program that hashes hook's file for
// imaHash: the kernel must run BPF LSM programs and let them ask IMA, and
// the hook must be one whose file Tetragon hashes.
func (c *compiler) imaProgram(at, hook string) (string, error) {
	prog, ok := imaHooks[hook]
	if !ok {
		return "", unsupported(at, "imaHash hashes the file of the LSM hooks bprm_check_security, bprm_committed_creds, bprm_committing_creds, bprm_creds_for_exec, bprm_creds_from_file, file_ioctl, file_lock, file_open, file_post_open, file_receive and mmap_file, as Tetragon's, not of %s", hook)
	}
	if err := c.kernel.Missing(probe.LSM); err != nil {
		return "", kernelLacks(at, "imaHash needs a sleepable BPF LSM program: %v", err)
	}
	if err := c.kernel.Missing(probe.IMAFileHash); err != nil {
		return "", kernelLacks(at, "imaHash asks IMA for the file's hash: %v", err)
	}
	return prog, nil
}
