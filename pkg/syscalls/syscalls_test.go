package syscalls

import (
	"syscall"
	"testing"
)

func TestNumbersMatchTheKernelABI(t *testing.T) {
	for name, want := range map[string]int{
		"openat": syscall.SYS_OPENAT, "sys_connect": syscall.SYS_CONNECT,
		"__x64_sys_setuid": syscall.SYS_SETUID, "read": syscall.SYS_READ,
	} {
		got, err := Number(name)
		if err != nil || got != uint32(want) {
			t.Errorf("Number(%q) = %d, %v; want %d", name, got, err, want)
		}
	}
	if _, err := Number("sys_nosuchcall"); err == nil {
		t.Error("an unknown syscall resolved")
	}
	if Symbol("sys_openat") != "__x64_sys_openat" {
		t.Errorf("Symbol = %s", Symbol("sys_openat"))
	}
}
