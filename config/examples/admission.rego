# Example admission policy for `wasmgate serve --policy config/examples/admission.rego`.
# input: {operation: "deploy"|"execute", function, claims, token, manifest, source}
package wasmgate.admission

# Allowed unless a deny rule below fires (allow defaults to true when a policy leaves it out).
default allow := true

# Names starting with "sys-" are reserved for the platform team's components.
deny contains msg if {
	input.operation == "deploy"
	startswith(input.function, "sys-")
	not "platform" in input.claims.wasmgate.tags
	msg := sprintf("%s: sys- names need the `platform` tag in the claims", [input.function])
}

# Outgoing HTTP only for components that declare a version, so calls can be traced to a build.
deny contains "http-outgoing needs a version in the claims (wasmgate sign --component-version)" if {
	"http-outgoing" in input.claims.wasmgate.caps
	not input.claims.wasmgate.version
}

# Signatures must expire within a year.
deny contains "signatures must expire within 365 days (wasmgate sign --expires)" if {
	input.operation == "deploy"
	not input.claims.exp
}

deny contains "signatures must expire within 365 days (wasmgate sign --expires)" if {
	input.operation == "deploy"
	input.claims.exp - input.claims.iat > 365 * 24 * 3600
}
