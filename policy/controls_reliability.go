package policy

// loadBalanced reports whether a service sits behind a load balancer (the API, not the worker).
func loadBalanced(svc *Resource) bool { return svc.Len("loadBalancers") > 0 }

var reliabilityControls = []Control{
	{
		ID: "APP.REL.1", Title: "Deployments roll back when new tasks fail", Severity: High,
		Satisfied: "deployment circuit breaker with rollback on every service",
		Check: func(s *Stack, report Reporter) {
			for _, svc := range s.OfType(typeService) {
				if !svc.Bool("deploymentCircuitBreaker.enable") || !svc.Bool("deploymentCircuitBreaker.rollback") {
					report(svc, "deploymentCircuitBreaker", "is not enabled with rollback")
				}
			}
		},
	},
	{
		ID: "APP.REL.2", Title: "Deployments keep 100 % healthy, except a documented singleton", Severity: High,
		Satisfied: "minimum healthy 100 %; the worker (1 task, maximum 100 %) is the documented exception",
		Check: func(s *Stack, report Reporter) {
			for _, svc := range s.OfType(typeService) {
				singleton := svc.Num("desiredCount") == 1 && svc.Num("deploymentMaximumPercent") == 100 && !loadBalanced(svc)
				if svc.Num("deploymentMinimumHealthyPercent") < 100 && !singleton {
					report(svc, "deploymentMinimumHealthyPercent", "is %v: a deployment takes capacity away", svc.Num("deploymentMinimumHealthyPercent"))
				}
			}
		},
	},
	{
		ID: "APP.REL.3", Title: "Load-balanced services give new tasks a health check grace period", Severity: Medium,
		Satisfied: "healthCheckGracePeriod > 0",
		Check: func(s *Stack, report Reporter) {
			for _, svc := range s.OfType(typeService) {
				if loadBalanced(svc) && svc.Num("healthCheckGracePeriodSeconds") <= 0 {
					report(svc, "healthCheckGracePeriodSeconds", "is 0: a slow boot gets the task killed")
				}
			}
		},
	},
	{
		ID: "APP.REL.4", Title: "Load-balanced services spread tasks across availability zones first", Severity: High,
		Satisfied: "placement: spread by attribute:ecs.availability-zone, then instanceId",
		Check: func(s *Stack, report Reporter) {
			for _, svc := range s.OfType(typeService) {
				if loadBalanced(svc) && (svc.Str("orderedPlacementStrategies.0.type") != "spread" ||
					svc.Str("orderedPlacementStrategies.0.field") != "attribute:ecs.availability-zone") {
					report(svc, "orderedPlacementStrategies", "does not spread across availability zones first")
				}
			}
		},
	},
	{
		ID: "APP.REL.5", Title: "The on-demand group keeps an instance in every availability zone", Severity: Medium, ProductionOnly: true,
		Satisfied: "minInstances >= azCount",
		Check: func(s *Stack, report Reporter) {
			azs := s.AZCount()
			for _, asg := range s.OfType(typeASG) {
				if !asg.Has("mixedInstancesPolicy") && !IsNatInstance(asg) && int(asg.Num("minSize")) < azs {
					report(asg, "minSize", "is %v for %d availability zones", asg.Num("minSize"), azs)
				}
			}
		},
	},
	{
		ID: "APP.REL.6", Title: "Capacity providers scale their instances for the tasks", Severity: Medium,
		Satisfied: "managed scaling ENABLED",
		Check: func(s *Stack, report Reporter) {
			for _, cp := range s.OfType(typeCapacityProv) {
				if cp.Str("autoScalingGroupProvider.managedScaling.status") != "ENABLED" {
					report(cp, "autoScalingGroupProvider.managedScaling.status", "is not ENABLED")
				}
			}
		},
	},
	{
		ID: "APP.REL.7", Title: "Load-balanced services run at least 2 tasks, and one per AZ in production", Severity: High,
		Satisfied: "desiredCount >= 2 (prod: >= azCount)",
		Check: func(s *Stack, report Reporter) {
			floor := 2
			if s.Production && s.AZCount() > floor {
				floor = s.AZCount()
			}
			for _, svc := range s.OfType(typeService) {
				if loadBalanced(svc) && int(svc.Num("desiredCount")) < floor {
					report(svc, "desiredCount", "is %v, below %d", svc.Num("desiredCount"), floor)
				}
			}
		},
	},
}
