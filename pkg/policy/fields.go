package policy

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Support says what Vigil does with one field of Tetragon's TracingPolicy
// schema: it is implemented, with Tetragon's semantics, and Test names the
// test that exercises it at run time ("pkg/agent.TestName"); or a policy
// that sets it is refused, and Refused is the reason the user sees.
type Support struct {
	Test    string
	Refused string
	// RefusedValues are values of an implemented field that are refused,
	// with the reason (for example the actions not implemented yet).
	RefusedValues map[string]string
}

// Fields classifies every leaf path under spec of Tetragon's
// TracingPolicy schema (list elements written "[]", e.g.
// "spec.kprobes[].args[].type"). A field set in a policy that the table
// refuses makes compilation fail with the field's YAML path and the
// reason: no field is accepted and ignored. TestFieldsCoverTheSchema keeps
// the table and the schema in step.
var Fields = fieldTable()

const notYet = "not implemented yet"

// Tests that exercise fields at run time.
const (
	testSigkill        = "pkg/agent.TestSigkillOnPrefixAndBinary"
	testOperators      = "pkg/agent.TestStringAndIntegerOperators"
	testNodeSelector   = "pkg/agent.TestNodeSelectorFollowsNodeLabels"
	testReturn         = "pkg/agent.TestReturnHookActsAtEntry"
	testReturnCopy     = "pkg/agent.TestReturnCopyReadsTheFilledBuffer"
	testTracepoint     = "pkg/agent.TestTracepointFieldsFromTheFormat"
	testRawTracepoint  = "pkg/agent.TestRawTracepointReadsTPProtoArguments"
	testLists          = "pkg/agent.TestTracepointKillsListedSyscalls"
	testUprobe         = "pkg/agent.TestUprobeOnBash"
	testUprobePlaces   = "pkg/agent.TestUprobeByOffsetAndAddress"
	testDigests        = "pkg/agent.TestUprobeBinaryDigests"
	testBTFType        = "pkg/agent.TestBTFTypeCastsAnArgument"
	testBTFTypeModule  = "pkg/compile.TestBTFTypeModule"
	testUSDT           = "pkg/agent.TestUSDTReadsItsArguments"
	testUretprobe      = "pkg/agent.TestUprobeReturn"
	testBeacon         = "pkg/agent.TestGetUrlAndDnsLookup"
	testLSM            = "pkg/agent.TestLSMFileOpenOverrideDenies"
	testFunction       = "pkg/agent.TestKernelFunctionHookResolvesTheFile"
	testScope          = "pkg/agent.TestPodContainerAndHostSelectors"
	testMonitor        = "pkg/agent.TestMonitorModeReportsWithoutKilling"
	testMacros         = "pkg/agent.TestSelectorsMacrosAtRunTime"
	testSelectorLabels = "pkg/agent.TestSelectorLabelsCountMatches"
	testWorkloads      = "pkg/agent.TestMatchWorkloadsPerSelector"
	testData           = "pkg/agent.TestDataFromTheCurrentTask"
	testTagsMessage    = "pkg/agent.TestClaimTagsAndMessage"
	testResolve        = "pkg/agent.TestResolveFollowsMembers"
	testMaxData        = "pkg/agent.TestMaxDataReadsUpToTetragonsLimit"
	testStackTraces    = "pkg/agent.TestStackTraces"
	testCapsGained     = "pkg/agent.TestCapabilitiesGained"
	testReturnActions  = "pkg/agent.TestReturnActionsKillAfterTheCall"
	testSockTracking   = "pkg/agent.TestSockTrackingNamesTheOwner"
	testLoader         = "pkg/agent.TestLoaderReportsMappedLibraries"
	testIMAHash        = "pkg/agent.TestIMAHashOfTheExecutedFile"
	testUSDTSet        = "pkg/agent.TestUSDTSetWritesTheArgument"
)

// refusedActions are the actions of matchActions Vigil does not run yet.
var refusedActions = map[string]string{
	"NotifyEnforcer":              notYet,
	"CleanupEnforcerNotification": notYet,
}

func fieldTable() map[string]Support {
	t := map[string]Support{}
	add := func(prefix string, fields map[string]Support) {
		for k, v := range fields {
			t[prefix+k] = v
		}
	}
	add("spec.", specFields())
	for _, kind := range []string{"kprobes", "fentries"} {
		p := "spec." + kind + "[]."
		add(p, kprobeFields())
		add(p+"args[].", argFields(true))
		add(p+"data[].", dataFields())
		add(p+"returnArg.", returnArgFields())
		add(p+"selectors[].", selectorFields(true))
	}
	hooks := map[string]map[string]Support{
		"tracepoints": tracepointFields(), "uprobes": uprobeFields(), "usdts": usdtFields(), "lsmhooks": lsmFields(),
	}
	for kind, fields := range hooks {
		p := "spec." + kind + "[]."
		add(p, fields)
		add(p+"args[].", argFields(false))
		add(p+"selectors[].", selectorFields(false))
	}
	t["spec.lsmhooks[].args[].resolve"] = implemented(testResolve)
	t["spec.lsmhooks[].args[].btfType"] = implemented(testBTFType)
	t["spec.lsmhooks[].args[].btfTypeModule"] = implemented(testBTFTypeModule)
	// maxData applies to char_buf, which tracepoint fields are not read as
	t["spec.tracepoints[].args[].maxData"] = refused("maxData applies to char_buf arguments, which tracepoint hooks do not read yet")
	add("spec.uprobes[].data[].", refusedTree(argFields(false), "data is "+notYet))
	add("spec.uprobes[].returnArg.", returnArgFields())
	add("spec.uprobes[].selectors[].", selectorFields(true))
	for _, kind := range []string{"tracepoints", "uprobes", "usdts", "lsmhooks"} {
		for _, f := range []string{"index", "operator", "values", "args"} {
			t["spec."+kind+"[].selectors[].matchData[]."+f] = refused("matchData filters data entries, which only kprobes and fentries read")
		}
	}
	return t
}

// refusedTree refuses every field of fields with reason.
func refusedTree(fields map[string]Support, reason string) map[string]Support {
	out := make(map[string]Support, len(fields))
	for k := range fields {
		out[k] = Support{Refused: reason}
	}
	return out
}

func implemented(test string) Support { return Support{Test: test} }

func refused(reason string) Support { return Support{Refused: reason} }

func specFields() map[string]Support {
	t := map[string]Support{
		"enforcers[].calls":                        refused("enforcers and NotifyEnforcer are " + notYet),
		"lists[].name":                             implemented(testLists),
		"lists[].type":                             implemented(testLists),
		"lists[].values":                           implemented(testLists),
		"lists[].pattern":                          implemented("pkg/agent.TestGeneratedFtraceList"),
		"lists[].validated":                        refused("validated (skip checking the list against the kernel) is " + notYet + ": Vigil checks every list"),
		"loader":                                   implemented(testLoader),
		"options[].name":                           implemented(testMonitor),
		"options[].value":                          implemented(testMonitor),
		"selectorsMacros":                          implemented(testMacros),
		"hostSelector.matchLabels":                 refused("hostSelector must be null or {}"),
		"hostSelector.matchExpressions[].key":      refused("hostSelector must be null or {}"),
		"hostSelector.matchExpressions[].operator": refused("hostSelector must be null or {}"),
		"hostSelector.matchExpressions[].values":   refused("hostSelector must be null or {}"),
		"nodeSelector.matchLabels":                 implemented(testNodeSelector),
		"nodeSelector.matchExpressions[].key":      implemented(testNodeSelector),
		"nodeSelector.matchExpressions[].operator": implemented(testNodeSelector),
		"nodeSelector.matchExpressions[].values":   implemented(testNodeSelector),
	}
	for _, s := range []string{"podSelector", "containerSelector"} {
		for _, f := range []string{"matchLabels", "matchExpressions[].key", "matchExpressions[].operator", "matchExpressions[].values"} {
			t[s+"."+f] = implemented(testScope)
		}
	}
	return t
}

func kprobeFields() map[string]Support {
	return map[string]Support{
		"call":                implemented(testSigkill),
		"syscall":             implemented(testFunction),
		"return":              implemented(testReturn),
		"message":             implemented(testTagsMessage),
		"tags":                implemented(testTagsMessage),
		"ignore.callNotFound": implemented("pkg/agent.TestIgnoreCallNotFound"),
		"returnArgAction":     implemented(testSockTracking),
	}
}

func tracepointFields() map[string]Support {
	return map[string]Support{
		"subsystem": implemented(testTracepoint),
		"event":     implemented(testTracepoint),
		"raw":       implemented(testRawTracepoint),
		"message":   implemented(testTracepoint),
		"tags":      implemented(testTracepoint),
	}
}

func uprobeFields() map[string]Support {
	return map[string]Support{
		"path":                             implemented(testUprobe),
		"symbols":                          implemented(testUprobe),
		"message":                          implemented(testUprobe),
		"tags":                             implemented(testUprobe),
		"offsets":                          implemented(testUprobePlaces),
		"refCtrOffsets":                    implemented(testUprobePlaces),
		"addrs":                            implemented(testUprobePlaces),
		"binaryDigests":                    implemented(testDigests),
		"btfPath":                          refused("BTF files for uprobes are " + notYet),
		"ignore.digestVerificationFailure": implemented(testDigests),
		"return":                           implemented(testUretprobe),
	}
}

func usdtFields() map[string]Support {
	fields := map[string]Support{"btfPath": refused("BTF files for USDTs are " + notYet)}
	for _, f := range []string{"path", "provider", "name", "message", "tags"} {
		fields[f] = implemented(testUSDT)
	}
	return fields
}

func lsmFields() map[string]Support {
	return map[string]Support{
		"hook":    implemented(testLSM),
		"message": implemented(testLSM),
		"tags":    implemented(testLSM),
	}
}

// argFields are the fields of an args entry; function says the hook has
// function arguments (kprobes, fentries), where buffers can be read at
// return.
func argFields(function bool) map[string]Support {
	t := map[string]Support{
		"index":         implemented(testSigkill),
		"type":          implemented(testSigkill),
		"label":         implemented("pkg/agent.TestCredAndCapabilityArgs"),
		"sizeArgIndex":  implemented(testReturnCopy),
		"returnCopy":    implemented(testReturnCopy),
		"maxData":       implemented(testMaxData),
		"resolve":       implemented(testResolve),
		"btfType":       implemented(testBTFType),
		"btfTypeModule": implemented(testBTFTypeModule),
		"source":        refused("an argument has no source: Tetragon refuses one (data entries have it)"),
	}
	if !function {
		t["returnCopy"] = refused("returnCopy needs a return probe: only kprobes and fentries have one")
		t["resolve"] = refused("resolve follows members of kernel objects: it applies to the arguments of kernel functions and LSM hooks")
		t["btfType"] = refused("btfType is the struct resolve starts from, which applies to the arguments of kernel functions and LSM hooks (BTF files for uprobes are " + notYet + ")")
		t["btfTypeModule"] = t["btfType"]
	}
	return t
}

// dataFields: a data entry reads a value from the current task; index,
// which Tetragon does not use there, is accepted as Tetragon accepts it.
func dataFields() map[string]Support {
	t := refusedTree(argFields(true), "a data entry reads no buffer: sizeArgIndex, returnCopy and maxData do not apply")
	for _, f := range []string{"index", "type", "label", "resolve", "source"} {
		t[f] = implemented(testData)
	}
	t["btfType"] = refused("a data entry of source current_task starts from the task (struct task_struct): btfType does not apply")
	t["btfTypeModule"] = t["btfType"]
	return t
}

// returnArgFields: a return value is described by its type and label.
func returnArgFields() map[string]Support {
	t := refusedTree(argFields(true), "a return value has only a type and a label")
	t["type"] = implemented(testReturn)
	t["label"] = implemented(testReturn)
	return t
}

// selectorFields are the fields of a selector; ret says the hook has a
// return value (kprobes, fentries).
func selectorFields(ret bool) map[string]Support {
	t := map[string]Support{
		"macros":                                         implemented(testMacros),
		"label":                                          implemented(testSelectorLabels),
		"matchArgs[].index":                              implemented(testOperators),
		"matchArgs[].operator":                           implemented(testOperators),
		"matchArgs[].values":                             implemented(testOperators),
		"matchArgs[].args":                               implemented(testCapsGained),
		"matchReturnArgs[].operator":                     implemented(testReturn),
		"matchReturnArgs[].values":                       implemented(testReturn),
		"matchReturnArgs[].index":                        refused("matchReturnArgs filters the return value: index does not apply"),
		"matchReturnArgs[].args":                         refused("matchReturnArgs filters the return value: args does not apply"),
		"matchBinaries[].operator":                       implemented(testSigkill),
		"matchBinaries[].values":                         implemented(testSigkill),
		"matchBinaries[].followChildren":                 implemented("pkg/agent.TestMatchBinariesFollowChildren"),
		"matchParentBinaries[].operator":                 implemented("pkg/agent.TestMatchParentBinaries"),
		"matchParentBinaries[].values":                   implemented("pkg/agent.TestMatchParentBinaries"),
		"matchParentBinaries[].followChildren":           refused("followChildren applies to matchBinaries only"),
		"matchPIDs[].operator":                           implemented("pkg/agent.TestMatchPIDsFollowForks"),
		"matchPIDs[].values":                             implemented("pkg/agent.TestMatchPIDsFollowForks"),
		"matchPIDs[].followForks":                        implemented("pkg/agent.TestMatchPIDsFollowForks"),
		"matchPIDs[].isNamespacePID":                     implemented("pkg/agent.TestClaimMatchPIDsNamespacePID"),
		"matchNamespaces[].namespace":                    implemented("pkg/agent.TestMatchNamespaces"),
		"matchNamespaces[].operator":                     implemented("pkg/agent.TestMatchNamespaces"),
		"matchNamespaces[].values":                       implemented("pkg/agent.TestMatchNamespaces"),
		"matchNamespaceChanges[].operator":               implemented("pkg/agent.TestNamespaceAndCapabilityChanges"),
		"matchNamespaceChanges[].values":                 implemented("pkg/agent.TestNamespaceAndCapabilityChanges"),
		"matchCapabilities[].operator":                   implemented("pkg/agent.TestMatchCapabilities"),
		"matchCapabilities[].type":                       implemented("pkg/agent.TestMatchCapabilities"),
		"matchCapabilities[].values":                     implemented("pkg/agent.TestMatchCapabilities"),
		"matchCapabilities[].isNamespaceCapability":      implemented("pkg/agent.TestNamespaceCapability"),
		"matchCapabilityChanges[].operator":              implemented("pkg/agent.TestNamespaceAndCapabilityChanges"),
		"matchCapabilityChanges[].type":                  implemented("pkg/agent.TestNamespaceAndCapabilityChanges"),
		"matchCapabilityChanges[].values":                implemented("pkg/agent.TestNamespaceAndCapabilityChanges"),
		"matchCapabilityChanges[].isNamespaceCapability": implemented("pkg/agent.TestNamespaceCapability"),
	}
	for _, f := range []string{"index", "operator", "values", "args"} {
		t["matchData[]."+f] = implemented(testData)
	}
	for _, f := range []string{"matchLabels", "matchExpressions[].key", "matchExpressions[].operator", "matchExpressions[].values"} {
		t["matchWorkloads.podSelector."+f] = implemented(testWorkloads)
		t["matchWorkloads.containerSelector."+f] = implemented(testWorkloads)
		t["matchWorkloads.hostSelector."+f] = refused("hostSelector must be null or {}")
	}
	for k, v := range actionFields() {
		t["matchActions[]."+k] = v
		t["matchReturnActions[]."+k] = v
	}
	t["matchReturnActions[].action"] = Support{Test: testReturnActions, RefusedValues: returnRefusedActions()}
	for _, f := range []string{"argSig", "rateLimit", "rateLimitScope"} {
		t["matchReturnActions[]."+f] = implemented(testReturnActions)
	}
	t["matchReturnActions[].argError"] = refused("Override at the return: the call has returned, there is nothing to override")
	t["matchReturnActions[].argSock"] = refused("TrackSock and UntrackSock in matchReturnActions are " + notYet)
	t["matchReturnActions[].argUrl"] = refused("GetUrl in matchReturnActions is " + notYet)
	t["matchReturnActions[].argFqdn"] = refused("DnsLookup in matchReturnActions is " + notYet)
	for _, f := range []string{"kernelStackTrace", "userStackTrace"} {
		t["matchReturnActions[]."+f] = refused("stack traces from matchReturnActions are " + notYet + " (matchActions can take them at the entry)")
	}
	if !ret {
		for k := range t {
			if strings.HasPrefix(k, "matchReturnArgs[]") {
				t[k] = refused("the hook has no return value")
			}
		}
	}
	return t
}

func actionFields() map[string]Support {
	t := map[string]Support{
		"action":           {Test: testSigkill, RefusedValues: refusedActions},
		"argSig":           implemented("pkg/agent.TestClaimSignalAction"),
		"argError":         implemented("pkg/agent.TestOverrideReturnsTheError"),
		"argSock":          implemented(testSockTracking),
		"argUrl":           implemented(testBeacon),
		"argFqdn":          implemented(testBeacon),
		"rateLimit":        implemented("pkg/agent.TestRateLimitCollapsesRepeats"),
		"rateLimitScope":   implemented("pkg/agent.TestRateLimitScopes"),
		"kernelStackTrace": implemented(testStackTraces),
		"userStackTrace":   implemented(testStackTraces),
		"imaHash":          implemented(testIMAHash),
	}
	t["argIndex"], t["argValue"] = implemented(testUSDTSet), implemented(testUSDTSet)
	for _, f := range []string{"argRegs", "argNewSymbol", "argNewAddr", "argNewOffset"} {
		t[f] = refused("the action this argument belongs to is " + notYet)
	}
	return t
}

// returnRefusedActions are the actions matchReturnActions refuses: those
// matchActions refuses, and Override.
func returnRefusedActions() map[string]string {
	out := map[string]string{"Override": "matchReturnActions run after the call returned: there is nothing to override",
		"TrackSock":   "TrackSock in matchReturnActions is " + notYet + ": returnArgAction tracks a returned socket",
		"UntrackSock": "UntrackSock in matchReturnActions is " + notYet + ": returnArgAction untracks a returned socket",
		"GetUrl":      "GetUrl in matchReturnActions is " + notYet + " (matchActions can make it)",
		"DnsLookup":   "DnsLookup in matchReturnActions is " + notYet + " (matchActions can make it)",
		"Set":         "a USDT has no return: Set is for matchActions"}
	for k, v := range refusedActions {
		out[k] = v
	}
	return out
}

// Refusal is a field a policy sets that Vigil refuses.
type Refusal struct {
	Path   string // the YAML path, e.g. spec.kprobes[0].args[1].maxData
	Reason string
}

// Refusals lists the fields spec sets (to a value other than the zero
// value) that Fields refuses, or whose value it refuses, in spec order.
// Fields in selectorsMacros count as the selector fields of kprobes.
func Refusals(spec *TracingPolicySpec) []Refusal {
	var out []Refusal
	walkSet(reflect.ValueOf(spec).Elem(), "spec", "spec", func(p, norm string, v reflect.Value) {
		s, ok := Fields[norm]
		switch {
		case !ok:
			out = append(out, Refusal{p, "the field is not in Tetragon's TracingPolicy schema"})
		case s.Refused != "":
			out = append(out, Refusal{p, s.Refused})
		case v.Kind() == reflect.String && s.RefusedValues[v.String()] != "":
			out = append(out, Refusal{p, fmt.Sprintf("%s: %s", v.String(), s.RefusedValues[v.String()])})
		}
	})
	return out
}

// walkSet calls fn for every leaf field of v that holds a non-zero value,
// with its YAML path p and its path in Fields, norm.
func walkSet(v reflect.Value, p, norm string, fn func(p, norm string, v reflect.Value)) {
	switch {
	case v.Kind() == reflect.Pointer:
		if !v.IsNil() {
			walkSet(v.Elem(), p, norm, fn)
		}
	case v.Kind() == reflect.Struct:
		for _, f := range fieldsOf(v.Type()) {
			walkSet(v.FieldByIndex(f.index), p+"."+f.name, norm+"."+f.name, fn)
		}
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
		for i := range v.Len() {
			walkSet(v.Index(i), fmt.Sprintf("%s[%d]", p, i), norm+"[]", fn)
		}
	case v.Kind() == reflect.Map && v.Type().Elem().Kind() == reflect.Struct:
		if v.Len() > 0 {
			fn(p, norm, v)
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			walkSet(v.MapIndex(k), string(path(p).key(k.String())), "spec.kprobes[].selectors[]", fn)
		}
	case !v.IsZero():
		fn(p, norm, v)
	}
}
