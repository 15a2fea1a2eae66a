package probe

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func validEntry() cacheEntry {
	e := cacheEntry{Key: cacheKey{BootID: "b", Kernel: "6.12.0", Version: "v", Format: cacheFormat},
		Report: Report{Kernel: "6.12.0", Lockdown: "none", LSMs: []string{"bpf"}}}
	for _, f := range Features() {
		e.Report.Features = append(e.Report.Features, Result{Feature: f, Available: f != LSM, Reason: map[bool]string{true: "load: EPERM"}[f == LSM]})
	}
	return e
}

func encode(t testing.TB, e cacheEntry) string {
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every kind of bad cache file is rejected with the reason; a good one is
// read back unchanged.
func TestReadCacheRejects(t *testing.T) {
	good := validEntry()
	valid := encode(t, good)
	foreign := func(change func(*cacheKey)) string {
		e := validEntry()
		change(&e.Key)
		return encode(t, e)
	}
	noFeature := validEntry()
	noFeature.Report.Features = noFeature.Report.Features[1:]
	swapped := validEntry()
	swapped.Report.Features[0], swapped.Report.Features[1] = swapped.Report.Features[1], swapped.Report.Features[0]
	noReason := validEntry()
	noReason.Report.Features[0].Available = false
	cases := map[string]struct {
		content string
		mode    os.FileMode
		why     string
	}{
		"other boot":     {foreign(func(k *cacheKey) { k.BootID = "x" }), 0o600, "is for"},
		"other kernel":   {foreign(func(k *cacheKey) { k.Kernel = "5.10.0" }), 0o600, "is for"},
		"other version":  {foreign(func(k *cacheKey) { k.Version = "w" }), 0o600, "is for"},
		"other format":   {foreign(func(k *cacheKey) { k.Format = cacheFormat + 1 }), 0o600, "is for"},
		"empty":          {"", 0o600, "corrupt"},
		"truncated":      {valid[:len(valid)/2], 0o600, "corrupt"},
		"not an object":  {"[1,2]", 0o600, "corrupt"},
		"unknown field":  {strings.Replace(valid, `{"key":`, `{"x":1,"key":`, 1), 0o600, "unknown field"},
		"trailing data":  {valid + `{}`, 0o600, "data after"},
		"too large":      {valid + strings.Repeat(" ", maxCacheBytes), 0o600, "larger than"},
		"feature gone":   {encode(t, noFeature), 0o600, "features"},
		"features moved": {encode(t, swapped), 0o600, "features"},
		"no reason":      {encode(t, noReason), 0o600, "without a reason"},
		"group readable": {valid, 0o640, "others may change it"},
		"world writable": {valid, 0o602, "others may change it"},
	}
	dir := t.TempDir()
	for name, tc := range cases {
		file := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(file, []byte(tc.content), tc.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(file, tc.mode)
		if _, err := readCache(file, good.Key); err == nil || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s: error %v, want one saying %q", name, err, tc.why)
		}
	}
	file := filepath.Join(dir, "good")
	if err := os.WriteFile(file, []byte(valid), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := readCache(file, good.Key)
	if err != nil || !reflect.DeepEqual(r, good.Report) {
		t.Errorf("valid cache: %v, %+v", err, r)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	if _, err := readCache(link, good.Key); err == nil {
		t.Error("read the cache through a symbolic link")
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(file, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if _, err := readCache(file, good.Key); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Errorf("a cache of another owner: %v", err)
		}
	}
}

// FuzzDecodeCache: any cache file content is rejected with an error or
// yields a report with one explained result per feature, in order.
func FuzzDecodeCache(f *testing.F) {
	f.Add([]byte(encode(f, validEntry())))
	f.Add([]byte(`{"key":{"boot_id":"b"},"report":{"features":null}}`))
	f.Add([]byte(`{"key":{}, "report":{"features":[{"name":"btf","available":false}]}}`))
	f.Add([]byte(`{"key":{}}{"key":{}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeCache(b)
		if err != nil {
			return
		}
		if len(e.Report.Features) != len(Features()) {
			t.Fatalf("accepted %d results", len(e.Report.Features))
		}
		for i, res := range e.Report.Features {
			if res.Feature != Features()[i] || (!res.Available && res.Reason == "") {
				t.Fatalf("accepted result %d: %+v", i, res)
			}
		}
	})
}
