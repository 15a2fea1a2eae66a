package main

import (
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// underAuditd runs work while the Linux audit daemon runs with rules (each
// an auditctl argument list), as a classic alternative to Vigil: auditd
// from Debian, installed when missing.
func underAuditd(rules [][]string, work func() (float64, error)) (float64, error) {
	if err := installAuditd(); err != nil {
		return 0, err
	}
	if err := exec.Command("auditd").Run(); err != nil {
		return 0, fmt.Errorf("starting auditd: %w", err)
	}
	defer stopAuditd()
	if err := waitAuditd(); err != nil {
		return 0, err
	}
	for _, r := range append([][]string{{"-D"}}, rules...) {
		if out, err := exec.Command("auditctl", r...).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("auditctl %s: %v: %s", strings.Join(r, " "), err, out)
		}
	}
	return work()
}

func installAuditd() error {
	if _, err := exec.LookPath("auditd"); err == nil {
		return nil
	}
	out, err := exec.Command("apt-get", "install", "-y", "-q", "auditd").CombinedOutput()
	if err != nil {
		return fmt.Errorf("installing auditd: %v: %s", err, out)
	}
	return nil
}

// waitAuditd waits until the kernel names auditd as its audit daemon.
func waitAuditd() error {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out, _ := exec.Command("auditctl", "-s").Output()
		if strings.Contains(string(out), "enabled 1") && !strings.Contains(string(out), "pid 0\n") {
			return nil
		}
	}
	return fmt.Errorf("auditd did not start")
}

func stopAuditd() {
	_ = exec.Command("auditctl", "-D").Run()
	_ = exec.Command("pkill", "-x", "auditd").Run()
	for i := 0; i < 100; i++ {
		if exec.Command("pgrep", "-x", "auditd").Run() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = exec.Command("auditctl", "-e", "0").Run()
}
