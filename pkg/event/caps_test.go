package event

import "testing"

func TestCapabilityList(t *testing.T) {
	got := CapabilityList(1<<0 | 1<<1 | 1<<2 | 1<<21 | 1<<39 | 1<<50)
	// Tetragon's enum: DAC_OVERRIDE alone lacks the prefix
	want := []string{"CAP_CHOWN", "DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_SYS_ADMIN", "CAP_BPF", "CAP_50"}
	if len(got) != len(want) {
		t.Fatalf("CapabilityList = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("CapabilityList[%d] = %s, want %s", i, got[i], want[i])
		}
	}
}
