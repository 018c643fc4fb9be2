# METADATA
# title: Production prompts pass their evaluation gate
# description: >-
#   A prompt bound to a production model declares an evaluation whose last
#   measured score meets its minimum.
# custom:
#   id: SO-PROMPT-001
#   severity: high
package specops.policies.prompt_eval_gate

import data.specops.lib
import rego.v1

evaluation := object.get(input.resource, ["spec", "evaluation"], null)

deny contains {"msg": msg, "field": "spec"} if {
	input.resource.kind == "Prompt"
	input.change.action != "delete"
	data.specops.lib.is_production
	evaluation == null
	msg := sprintf("production prompt %s has no evaluation gate (spec.evaluation)", [input.resource.metadata.name])
}

deny contains {"msg": msg, "field": "spec.evaluation"} if {
	input.resource.kind == "Prompt"
	input.change.action != "delete"
	data.specops.lib.is_production
	evaluation != null
	not evaluation.score
	msg := sprintf("production prompt %s has no measured evaluation score", [input.resource.metadata.name])
}

deny contains {"msg": msg, "field": "spec.evaluation.score"} if {
	input.resource.kind == "Prompt"
	input.change.action != "delete"
	data.specops.lib.is_production
	evaluation.score < evaluation.minScore
	msg := sprintf("production prompt %s scored %v on %s, below the gate of %v", [
		input.resource.metadata.name, evaluation.score, evaluation.suite, evaluation.minScore,
	])
}
