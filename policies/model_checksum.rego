# METADATA
# title: Production models pin their artifact by checksum
# description: >-
#   A production model's ONNX artifact carries a SHA-256 digest, so what is
#   served is exactly what was reviewed.
# custom:
#   id: SO-MODEL-001
#   severity: high
package specops.policies.model_checksum

import data.specops.lib
import rego.v1

deny contains {"msg": msg, "field": "spec.artifact.sha256"} if {
	input.resource.kind == "Model"
	input.change.action != "delete"
	data.specops.lib.is_production
	not regex.match(`^[0-9a-f]{64}$`, object.get(input.resource, ["spec", "artifact", "sha256"], ""))
	msg := sprintf("production model %s has no artifact sha256", [input.resource.metadata.name])
}
