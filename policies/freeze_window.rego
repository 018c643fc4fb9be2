# METADATA
# title: No production changes during a freeze window
# description: >-
#   Changes to production resources are refused while a freeze window declared
#   in data.project.freeze_windows ({name, start, end} in RFC 3339) is in force.
# custom:
#   id: SO-CHANGE-002
#   severity: high
package specops.policies.freeze_window

import data.specops.lib
import rego.v1

now := time.parse_rfc3339_ns(input.context.now)

doc := input.resource

deny contains msg if {
	# no window declared (the common case): nothing else is evaluated
	some window in object.get(data.project, "freeze_windows", [])
	data.specops.lib.changing
	lib.production(doc, input.related)
	time.parse_rfc3339_ns(window.start) <= now
	now < time.parse_rfc3339_ns(window.end)
	msg := sprintf("%s of production resource %s during freeze window %s (%s to %s)", [
		input.change.action, input.change.id, window.name, window.start, window.end,
	])
}
