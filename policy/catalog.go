package policy

// catalog is every control, by area.
var catalog = concat(networkControls, loadBalancerControls, computeControls, iamControls, dataControls, reliabilityControls, operationsControls)

func concat(groups ...[]Control) []Control {
	var out []Control
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}
