# METADATA
# title: Deleting or replacing a production resource needs its owner's approval
# description: >-
#   A delete or replace of a production resource blocks until the resource's
#   owner (a user, or a team listed in data.project.teams) approves the pull request.
# custom:
#   id: SO-CHANGE-001
#   severity: critical
package specops.policies.production_change_approval

import data.specops.lib
import rego.v1

destructive if input.change.action in {"delete", "replace"}

# What exists now is what is being destroyed (for a delete, input.resource is it too).
doc := input.change.before if {
	input.change.before != null
} else := input.resource

approval contains {"msg": msg, "approvers": [owner]} if {
	destructive
	lib.production(doc, input.related)
	owner := doc.metadata.owner
	msg := sprintf("%s of production resource %s needs approval by its owner %s", [
		input.change.action, input.change.id, owner,
	])
}

deny contains msg if {
	destructive
	lib.production(doc, input.related)
	not doc.metadata.owner
	msg := sprintf("%s of production resource %s needs its owner's approval, but it names no metadata.owner", [
		input.change.action, input.change.id,
	])
}
