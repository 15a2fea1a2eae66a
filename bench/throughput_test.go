package main

import (
	"strings"
	"testing"
	"time"
)

// count sees policy events and adds up lost_events records, also past a
// line longer than its buffer.
func TestCount(t *testing.T) {
	long := `{"process_exec":{"process":{"arguments":"` + strings.Repeat("x", 3<<20) + `"}}}` + "\n"
	in := `{"process_kprobe":{"function_name":"sys_openat"}}` + "\n" +
		long +
		`{"lost_events":{"count":7,"reason":"kernel_ring_buffer_full"}}` + "\n" +
		`{"process_kprobe":{"function_name":"sys_openat","args":[{"string_arg":"{\"process_kprobe\":"}]}}` + "\n" +
		`{"lost_events":{"count":5,"reason":"decode_error"}}` + "\n"
	got, err := count(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got.delivered != 2 || got.lost != 12 {
		t.Errorf("delivered %d, lost %d; want 2 and 12", got.delivered, got.lost)
	}
}

// search finds the highest rate without loss within an eighth of the
// agent's capacity, and stops at the generator's limit when that comes
// first.
func TestSearch(t *testing.T) {
	for _, c := range []struct{ capacity, generator, lo, hi float64 }{
		{110000, 700000, 110000 * 7 / 8, 110000},
		{500000, 180000, 170000, 180000},
	} {
		try := func(rate float64, d time.Duration) (trial, error) {
			offered := min(rate, c.generator)
			tr := trial{opens: uint64(offered * 10), secs: 10}
			if offered > c.capacity {
				tr.lost = uint64((offered - c.capacity) * 10)
			}
			tr.delivered = tr.opens - tr.lost
			return tr, nil
		}
		got, err := search(try)
		if err != nil {
			t.Fatal(err)
		}
		if got < c.lo || got > c.hi {
			t.Errorf("capacity %.0f, generator %.0f: found %.0f, want %.0f to %.0f", c.capacity, c.generator, got, c.lo, c.hi)
		}
	}
}
