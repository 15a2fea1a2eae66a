# What the kernel killed for kill-shadow-read and connect-port goes to the
# sink named "soc" (Options.Sinks: the security team's SIEM), whichever export
# filters the other outputs have.
package vigil.responses

match contains {"type": "process_kprobe", "policy": "kill-shadow-read"}

match contains {"type": "process_kprobe", "policy": "connect-port"}

respond contains {"action": "sink", "name": "soc"} if {
	input.process_kprobe.policy_name in {"kill-shadow-read", "connect-port"}
	input.process_kprobe.action == "KPROBE_ACTION_SIGKILL"
}
