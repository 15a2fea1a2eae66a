package usdt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/pkg/tracing"
	"github.com/vigil-sec/vigil/pkg/usdt/usdttest"
)

func TestArgs(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want tracing.USDTArg
	}{
		{"-4@$-7", tracing.USDTArg{Kind: tracing.USDTConst, Val: -7, Shift: 32, Sig: 1}},
		{"8@%rdi", tracing.USDTArg{Kind: tracing.USDTReg, Reg: 112, Shift: 0}},
		{"-4@%edi", tracing.USDTArg{Kind: tracing.USDTReg, Reg: 112, Shift: 32, Sig: 1}},
		{"1@%r9b", tracing.USDTArg{Kind: tracing.USDTReg, Reg: 64, Shift: 56}},
		{"2@%r10w", tracing.USDTArg{Kind: tracing.USDTReg, Reg: 56, Shift: 48}},
		{"-8@-1204(%rbp)", tracing.USDTArg{Kind: tracing.USDTDeref, Reg: 32, Val: -1204, Sig: 1}},
		{"4@(%rax)", tracing.USDTArg{Kind: tracing.USDTDeref, Reg: 80, Shift: 32}},
		{"-1@-96(%rbp,%rax,8)", tracing.USDTArg{Kind: tracing.USDTSIB, Reg: 32, Index: 80, Scale: 3, Val: -96, Shift: 56, Sig: 1}},
		{"8@0x10(%rsp)", tracing.USDTArg{Kind: tracing.USDTDeref, Reg: 152, Val: 16}},
	} {
		got, err := Args(tc.spec)
		if err != nil || len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s: %+v %v, want %+v", tc.spec, got, err, tc.want)
		}
	}
	for _, bad := range []string{"3@%eax", "8@%ah", "8@%xmm0", "%eax", "8@-8(%rbp,%rax,3)", "8@-8(%rbp,%rax)", "4@$x"} {
		if _, err := Args(bad); err == nil {
			t.Errorf("%s: parsed, want an error", bad)
		}
	}
	if _, err := Args(strings.Repeat("8@%rax ", 13)); err == nil {
		t.Error("13 arguments parsed, an SDT note has at most 12")
	}
}

func TestFind(t *testing.T) {
	p, err := usdttest.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Find(p.Path, usdttest.Provider, usdttest.Name)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Args(usdttest.Args)
	if len(got) != 1 || got[0].Offset != p.Probe || got[0].Semaphore != p.Semaphore || len(got[0].Args) != 3 || got[0].Args[1] != want[1] {
		t.Errorf("probes %+v, want one at %#x with semaphore %#x and args %+v", got, p.Probe, p.Semaphore, want)
	}
	if _, err := Find(p.Path, usdttest.Provider, "other"); err == nil || !strings.Contains(err.Error(), "has no USDT vigil:other (1 USDTs in all)") {
		t.Errorf("a probe the binary lacks: %v", err)
	}
	self, _ := os.Executable()
	if _, err := Find(self, "a", "b"); err == nil || !strings.Contains(err.Error(), "no .note.stapsdt section") {
		t.Errorf("a binary without notes: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	_ = os.WriteFile(bad, []byte("not an ELF file"), 0o600)
	if _, err := Find(bad, "a", "b"); err == nil {
		t.Error("not an ELF file: no error")
	}
}
