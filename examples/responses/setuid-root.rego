# Alerts of the TracingPolicy setuid-root from a container: note it on the
# pod, for the people who own it, and keep the evidence. Nothing is killed.
package vigil.responses

match contains {"type": "process_kprobe", "policy": "setuid-root"}

respond contains {
	"action": "annotate",
	"key": "vigil.dev/setuid-root",
	"value": sprintf("%s called %s at %s", [p.binary, alert.function_name, input.time]),
} if {
	alert := setuid_alert
	p := alert.process
	p.pod
}

respond contains {"action": "evidence", "reason": "setuid to root"} if setuid_alert

setuid_alert := input.process_kprobe if input.process_kprobe.policy_name == "setuid-root"
