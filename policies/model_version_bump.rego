# METADATA
# title: A new model artifact needs a new version
# description: >-
#   The artifact (uri or sha256) of a model cannot change while its version
#   stays the same: a version names exactly one artifact.
# custom:
#   id: SO-MODEL-005
#   severity: high
package specops.policies.model_version_bump

import data.specops.lib
import rego.v1

deny contains {"msg": msg, "field": "spec.version"} if {
	input.change.kind == "Model"
	data.specops.lib.updating
	before := input.change.before.spec
	after := input.change.after.spec
	before.version == after.version
	before.artifact.sha256 != after.artifact.sha256
	msg := sprintf("model %s: the artifact changed but the version is still %s; bump spec.version", [input.change.name, after.version])
}

deny contains {"msg": msg, "field": "spec.version"} if {
	input.change.kind == "Model"
	data.specops.lib.updating
	before := input.change.before.spec
	after := input.change.after.spec
	before.version == after.version
	before.artifact.sha256 == after.artifact.sha256
	before.artifact.uri != after.artifact.uri
	msg := sprintf("model %s: the artifact uri changed but the version is still %s; bump spec.version", [input.change.name, after.version])
}
