# METADATA
# title: Production models roll out as canaries
# description: >-
#   A production model shifts traffic in canary steps judged by an analysis,
#   never all at once.
# custom:
#   id: SO-MODEL-002
#   severity: high
package specops.policies.model_canary

import data.specops.lib
import rego.v1

rollout := object.get(input.resource, ["spec", "rollout"], {})

deny contains {"msg": msg, "field": "spec.rollout.strategy"} if {
	input.resource.kind == "Model"
	input.change.action != "delete"
	data.specops.lib.is_production
	object.get(rollout, "strategy", "direct") != "canary"
	msg := sprintf("production model %s must use rollout.strategy canary, not %s", [
		input.resource.metadata.name,
		object.get(rollout, "strategy", "direct"),
	])
}

deny contains {"msg": msg, "field": "spec.rollout"} if {
	input.resource.kind == "Model"
	input.change.action != "delete"
	data.specops.lib.is_production
	object.get(rollout, "strategy", "direct") == "canary"
	not rollout.analysis
	msg := sprintf("production model %s: a canary needs rollout.analysis (an SLO to judge each step)", [input.resource.metadata.name])
}
