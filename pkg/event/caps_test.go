package event

import "testing"

func TestCapabilityList(t *testing.T) {
	got := CapabilityList(1<<0 | 1<<21 | 1<<39 | 1<<50)
	want := []string{"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_BPF", "CAP_50"}
	if len(got) != len(want) {
		t.Fatalf("CapabilityList = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("CapabilityList[%d] = %s, want %s", i, got[i], want[i])
		}
	}
}
