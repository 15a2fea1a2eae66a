# Alerts of the TracingPolicy kill-crypto-miners (for example connects to
# mining pool ports, with action Post so the process is still alive): freeze
# the container, keep the evidence, kill the process tree, thaw, and label
# the pod so that a NetworkPolicy or an operator can isolate it.
package vigil.responses

match contains {"type": "process_kprobe", "policy": "kill-crypto-miners"}

respond contains {"action": "freeze_and_kill", "reason": "crypto miner"} if miner_alert

respond contains {"action": "label", "key": "vigil.dev/quarantine", "value": "crypto-miner"} if miner_alert

miner_alert if {
	input.process_kprobe.policy_name == "kill-crypto-miners"
	not input.process_kprobe.mode == "monitor" # a policy in monitor mode only reports
}
