package tracefs

import (
	"os"
	"testing"
)

const signalGenerate = `name: signal_generate
ID: 261
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int sig;	offset:8;	size:4;	signed:1;
	field:char comm[16];	offset:20;	size:16;	signed:0;
	field:const char * filename;	offset:40;	size:8;	signed:0;
	field:__data_loc char[] name;	offset:48;	size:4;	signed:0;

print fmt: "sig=%d", REC->sig
`

func TestParse(t *testing.T) {
	fields, err := Parse(signalGenerate)
	if err != nil {
		t.Fatal(err)
	}
	want := []Field{
		{Name: "common_type", Type: "unsigned short", Offset: 0, Size: 2},
		{Name: "common_flags", Type: "unsigned char", Offset: 2, Size: 1},
		{Name: "common_preempt_count", Type: "unsigned char", Offset: 3, Size: 1},
		{Name: "common_pid", Type: "int", Offset: 4, Size: 4, Signed: true},
		{Name: "sig", Type: "int", Offset: 8, Size: 4, Signed: true},
		{Name: "comm", Type: "char[16]", Offset: 20, Size: 16, Array: true},
		{Name: "filename", Type: "const char *", Offset: 40, Size: 8},
		{Name: "name", Type: "__data_loc char[]", Offset: 48, Size: 4, DataLoc: true},
	}
	if len(fields) != len(want) {
		t.Fatalf("got %d fields, want %d: %+v", len(fields), len(want), fields)
	}
	for i := range want {
		if fields[i] != want[i] {
			t.Errorf("field %d: got %+v, want %+v", i, fields[i], want[i])
		}
	}
	if !fields[6].Pointer() || fields[5].Pointer() {
		t.Error("Pointer: want true only for the const char * field")
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	for _, in := range []string{"", "format:\n", "field:int x;\toffset:zz;\tsize:4;"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q): want an error", in)
		}
	}
}

// The running kernel's own format of a tracepoint every kernel has.
func TestFormatOfTheRunningKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("reading tracefs needs root")
	}
	fields, err := Format("sched", "sched_process_exec")
	if err != nil {
		t.Fatal(err)
	}
	if len(fields) < 5 || fields[4].Name != "filename" || !fields[4].DataLoc {
		t.Fatalf("sched_process_exec: want field 4 to be the __data_loc filename, got %+v", fields)
	}
	if _, err := Format("sched", "no_such_event"); err == nil {
		t.Error("a missing tracepoint: want an error")
	}
}
