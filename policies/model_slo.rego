# METADATA
# title: Production models have an SLO
# description: >-
#   Every production model is watched by at least one SLO (latency, errors,
#   availability or drift) declared for it.
# custom:
#   id: SO-MODEL-003
#   severity: medium
package specops.policies.model_slo

import data.specops.lib
import rego.v1

has_slo if {
	some id, doc in input.related
	doc.kind == "SLO"
	doc.spec.model == input.resource.metadata.name
}

deny contains {"msg": msg, "field": "metadata.name"} if {
	input.resource.kind == "Model"
	input.change.action != "delete"
	data.specops.lib.is_production
	not has_slo
	msg := sprintf("production model %s has no SLO (add an SLO whose spec.model is %s)", [
		input.resource.metadata.name,
		input.resource.metadata.name,
	])
}
