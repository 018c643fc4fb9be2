# METADATA
# title: A dataset version is immutable
# description: >-
#   Data under a version never changes: new data (a new sha256) needs a new
#   spec.version, so lineage that names a version stays true.
# custom:
#   id: SO-DATA-001
#   severity: high
package specops.policies.dataset_immutable

import data.specops.lib
import rego.v1

deny contains {"msg": msg, "field": "spec.artifact.sha256"} if {
	input.change.kind == "Dataset"
	data.specops.lib.updating
	before := input.change.before.spec
	after := input.change.after.spec
	before.version == after.version
	before.artifact.sha256 != after.artifact.sha256
	msg := sprintf("dataset %s@%s: its data changed under the same version; publish it as a new version", [input.change.name, after.version])
}
