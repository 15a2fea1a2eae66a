package compile

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// resolvePath turns an argument's resolve path (e.g. "file.f_path.dentry")
// into the steps the kernel follows from the argument: the member offsets
// in the kernel's BTF, from the type of argument a.Index of function (or
// the struct a.BTFType names, in the module a.BTFTypeModule or the
// kernel, which the argument then points to, as in Tetragon), and whether
// each member's value is loaded (pointers, and a final integer) or its
// address taken (embedded structs and arrays). a.Type is the declared
// type, which says what the last member must be.
func resolvePath(function string, a policy.KProbeArg) ([]tracing.ResolveStep, error) {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return nil, fmt.Errorf("kernel BTF: %w", err)
	}
	var start btf.Type
	if a.BTFType != "" {
		start, err = castType(spec, a.BTFType, a.BTFTypeModule)
	} else {
		start, err = paramType(spec, function, a.Index)
	}
	if err != nil {
		return nil, err
	}
	return follow(start, a.Resolve, a.Type)
}

// castError is castType's: field is the argument's field at fault.
type castError struct {
	field string // btfType or btfTypeModule
	err   error
}

func (e *castError) Error() string { return e.field + ": " + e.err.Error() }

// castType is the struct named in the kernel's BTF, or in module's.
func castType(spec *btf.Spec, name, module string) (btf.Type, error) {
	where := "the kernel's BTF"
	if module != "" {
		var err error
		if spec, err = btf.LoadKernelModuleSpec(module); err != nil {
			return nil, &castError{"btfTypeModule", fmt.Errorf("the BTF of module %s (is it loaded?): %w", module, err)}
		}
		where = "the BTF of module " + module
	}
	var st *btf.Struct
	if err := spec.TypeByName(name, &st); err != nil {
		return nil, &castError{"btfType", fmt.Errorf("struct %s is not in %s: %w", name, where, err)}
	}
	return st, nil
}

// taskPath is resolvePath from the current task (a struct task_struct):
// the source current_task of a hook's data.
func taskPath(members, argType string) ([]tracing.ResolveStep, error) {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return nil, fmt.Errorf("kernel BTF: %w", err)
	}
	var task *btf.Struct
	if err := spec.TypeByName("task_struct", &task); err != nil {
		return nil, fmt.Errorf("struct task_struct: %w", err)
	}
	return follow(task, members, argType)
}

// follow is the steps of the dotted members from an object of type t.
func follow(t btf.Type, members, argType string) ([]tracing.ResolveStep, error) {
	parts := strings.Split(members, ".")
	if len(parts) > tracing.MaxResolve {
		return nil, fmt.Errorf("%d members: the kernel follows at most %d", len(parts), tracing.MaxResolve)
	}
	steps := make([]tracing.ResolveStep, 0, len(parts))
	for i, part := range parts {
		step, next, err := member(t, part)
		if err != nil {
			return nil, err
		}
		last := i == len(parts)-1
		if step.Load, err = loadOf(next, last, argType); err != nil {
			return nil, fmt.Errorf("%s: %w", part, err)
		}
		steps = append(steps, step)
		t = next
	}
	return steps, nil
}

// paramType is the BTF type of argument index of a kernel function: the
// function itself, or its BPF LSM stub, or its security_ function.
func paramType(spec *btf.Spec, function string, index uint32) (btf.Type, error) {
	var fn *btf.Func
	var errs []error
	for _, name := range []string{function, "bpf_lsm_" + function, "security_" + function} {
		err := spec.TypeByName(name, &fn)
		if err == nil {
			break
		}
		errs = append(errs, err)
		fn = nil
	}
	if fn == nil {
		return nil, fmt.Errorf("function %s is not in the kernel's BTF: %w", function, errors.Join(errs...))
	}
	params := fn.Type.(*btf.FuncProto).Params
	if int(index) >= len(params) {
		return nil, fmt.Errorf("%s has %d arguments, none at index %d", function, len(params), index)
	}
	return params[index].Type, nil
}

var part = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)(?:\[([0-9]+)\])?$`)

// member is the step to member name (with an optional [N]) of the struct
// or union t, or of the one t points to, and the member's type.
func member(t btf.Type, name string) (tracing.ResolveStep, btf.Type, error) {
	m := part.FindStringSubmatch(name)
	if m == nil {
		return tracing.ResolveStep{}, nil, fmt.Errorf("%q is not a member name", name)
	}
	t = btf.UnderlyingType(t)
	if p, ok := t.(*btf.Pointer); ok {
		t = btf.UnderlyingType(p.Target)
	}
	if _, ok := membersOf(t); !ok {
		return tracing.ResolveStep{}, nil, fmt.Errorf("%s: %s is not a struct or union", name, typeName(t))
	}
	off, mt, err := findMember(t, m[1])
	if err != nil {
		return tracing.ResolveStep{}, nil, err
	}
	if m[2] != "" {
		if off, mt, err = element(off, mt, m[2]); err != nil {
			return tracing.ResolveStep{}, nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return tracing.ResolveStep{Off: off}, mt, nil
}

// membersOf lists the members of a struct or union.
func membersOf(t btf.Type) ([]btf.Member, bool) {
	switch c := t.(type) {
	case *btf.Struct:
		return c.Members, true
	case *btf.Union:
		return c.Members, true
	}
	return nil, false
}

// findMember finds name among the members of struct or union c, anonymous
// ones included; its offset in bytes and type.
func findMember(c btf.Type, name string) (uint32, btf.Type, error) {
	members, _ := membersOf(c)
	for _, mem := range members {
		inner := btf.UnderlyingType(mem.Type)
		_, anon := membersOf(inner)
		switch {
		case mem.Name == name && mem.BitfieldSize > 0:
			return 0, nil, fmt.Errorf("%s of %s is a bit field: it cannot be read alone", name, typeName(c))
		case mem.Name == name:
			return mem.Offset.Bytes(), mem.Type, nil
		case mem.Name == "" && anon:
			if off, t, err := findMember(inner, name); err == nil {
				return mem.Offset.Bytes() + off, t, nil
			}
		}
	}
	return 0, nil, fmt.Errorf("%s has no member %q", typeName(c), name)
}

// element is element n of the array t at offset off.
func element(off uint32, t btf.Type, n string) (uint32, btf.Type, error) {
	arr, ok := btf.UnderlyingType(t).(*btf.Array)
	if !ok {
		return 0, nil, fmt.Errorf("%s is not an array", typeName(t))
	}
	i, _ := strconv.ParseUint(n, 10, 32)
	if i >= uint64(arr.Nelems) {
		return 0, nil, fmt.Errorf("index %d is past the %d elements", i, arr.Nelems)
	}
	size, err := btf.Sizeof(arr.Type)
	if err != nil {
		return 0, nil, err
	}
	return off + uint32(i)*uint32(size), arr.Type, nil
}

// loadOf says how a member of type t is taken: a member the path goes on
// from is loaded when it is a pointer, its address taken when embedded;
// the last member must be what argType reads.
func loadOf(t btf.Type, last bool, argType string) (uint8, error) {
	u := btf.UnderlyingType(t)
	_, pointer := u.(*btf.Pointer)
	_, composite := membersOf(u)
	_, array := u.(*btf.Array)
	switch {
	case !last && pointer:
		return 8, nil
	case !last && composite:
		return 0, nil
	case !last:
		return 0, fmt.Errorf("%s is neither a pointer nor a struct: the path cannot go on from it", typeName(t))
	}
	return lastLoad(u, pointer, array || composite, argType)
}

// lastLoad checks the last member against the declared type: strings are
// a char pointer or array, kernel objects a pointer to one or the object
// embedded, integers an integer or enum of their size.
func lastLoad(u btf.Type, pointer, embedded bool, argType string) (uint8, error) {
	switch {
	case argType == "string" && pointer:
		return 8, nil
	case argType == "string" && embedded:
		return 0, nil
	case isObjectType(argType) && pointer:
		return 8, nil
	case isObjectType(argType) && embedded:
		return 0, nil
	}
	if isIntegerType(argType) {
		size, err := btf.Sizeof(u)
		_, isInt := u.(*btf.Int)
		_, isEnum := u.(*btf.Enum)
		if err == nil && (isInt || isEnum || pointer) && size <= 8 {
			return uint8(size), nil
		}
	}
	return 0, fmt.Errorf("the last member is %s, which type %s cannot read", typeName(u), argType)
}

// isIntegerType: the argument types read as integers.
func isIntegerType(argType string) bool {
	switch syscallArgTypes[argType] {
	case tracing.ArgInt, tracing.ArgUint, tracing.ArgS64, tracing.ArgU64, tracing.ArgS8, tracing.ArgU8, tracing.ArgS16,
		tracing.ArgU16:
		return argType != "nop"
	}
	return false
}

// isObjectType: the argument types that are kernel objects read through
// their pointer.
func isObjectType(argType string) bool {
	_, ok := funcArgTypes[argType]
	return ok
}

func typeName(t btf.Type) string {
	if n := t.TypeName(); n != "" {
		return fmt.Sprintf("%s %s", kindOf(t), n)
	}
	return kindOf(t)
}

func kindOf(t btf.Type) string {
	switch t.(type) {
	case *btf.Struct:
		return "struct"
	case *btf.Union:
		return "union"
	case *btf.Pointer:
		return "a pointer"
	case *btf.Array:
		return "an array"
	case *btf.Int:
		return "int"
	case *btf.Enum:
		return "enum"
	}
	return fmt.Sprintf("%T", t)
}
