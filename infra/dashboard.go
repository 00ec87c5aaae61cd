package infra

import (
	"fmt"
	"maps"
	"slices"
)

// DashboardSpec is what the stack has, by the names CloudWatch's metrics carry; the dashboard shows
// widgets for exactly these parts.
type DashboardSpec struct {
	Region string
	// Title heads the dashboard, e.g. "ecs-api/prod".
	Title        string
	LoadBalancer string // ARN suffix, app/<name>/<id>
	TargetGroup  string // ARN suffix, targetgroup/<name>/<id>
	Cluster      string
	// Services are the ECS service names, the API's first.
	Services          []string
	CapacityProviders []string
	AutoScalingGroup  string
	// Database is the RDS instance identifier; "" without a database.
	Database string
	// CacheNodes are the replication group's member clusters; none without a cache.
	CacheNodes []string
	// StateMachines maps each job's name to its state machine ARN.
	StateMachines   map[string]string
	DeadLetterQueue string
	// Alarms are the ARNs of the stack's alarms, shown as one status widget.
	Alarms []string
}

// Dashboard widget titles, as the layout table of docs/operating.md names them.
const (
	WidgetAlarms       = "Alarms"
	WidgetRequests     = "Requests"
	WidgetResponses    = "Responses by class"
	WidgetLatency      = "Target response time"
	WidgetTargets      = "Targets"
	WidgetTasks        = "Tasks"
	WidgetCapacity     = "Instances and capacity"
	WidgetServiceCPU   = "CPU per service (%)"
	WidgetServiceMem   = "Memory per service (%)"
	WidgetDatabase     = "Database"
	WidgetDatabaseLoad = "Database CPU and connections"
	WidgetCache        = "Cache"
	WidgetCacheEvict   = "Cache evictions"
	WidgetJobs         = "Job runs"
)

// dashboardWidget is one widget of a CloudWatch dashboard body ("Dashboard body structure and
// syntax", CloudWatch API Reference).
type dashboardWidget struct {
	Type       string         `json:"type"`
	X          int            `json:"x"`
	Y          int            `json:"y"`
	Width      int            `json:"width"`
	Height     int            `json:"height"`
	Properties map[string]any `json:"properties"`
}

// DashboardGridWidth is the width of a dashboard row in grid units.
const DashboardGridWidth = 24

// metricLine is one entry of a metric widget's "metrics": namespace, name, dimension pairs, then
// rendering options.
func metricLine(namespace, name string, dims []string, opts map[string]any) []any {
	line := []any{namespace, name}
	for _, d := range dims {
		line = append(line, d)
	}
	if len(opts) > 0 {
		line = append(line, opts)
	}
	return line
}

// DashboardBody lays the widgets out in rows of up to three, each 8 units wide.
func DashboardBody(s DashboardSpec) (string, error) {
	var widgets []dashboardWidget
	x, y := 0, 0
	add := func(width int, typ string, props map[string]any) {
		if x+width > DashboardGridWidth {
			x, y = 0, y+6
		}
		props["region"] = s.Region
		widgets = append(widgets, dashboardWidget{Type: typ, X: x, Y: y, Width: width, Height: 6, Properties: props})
		x += width
	}
	newRow := func() {
		if x > 0 {
			x, y = 0, y+6
		}
	}
	chart := func(title, stat string, period int, metrics [][]any, extra map[string]any) {
		props := map[string]any{"title": s.Title + ": " + title, "view": "timeSeries", "stacked": false, "stat": stat, "period": period, "metrics": metrics}
		maps.Copy(props, extra)
		add(8, "metric", props)
	}
	lb := []string{"LoadBalancer", s.LoadBalancer}
	tg := []string{"LoadBalancer", s.LoadBalancer, "TargetGroup", s.TargetGroup}
	const alb = "AWS/ApplicationELB"

	if len(s.Alarms) > 0 {
		add(DashboardGridWidth, "alarm", map[string]any{"title": s.Title + ": " + WidgetAlarms, "alarms": s.Alarms, "sortBy": "stateUpdatedTimestamp"})
	}
	newRow()
	chart(WidgetRequests, "Sum", 60, [][]any{metricLine(alb, "RequestCount", lb, map[string]any{"label": "Requests"})}, nil)
	chart(WidgetResponses, "Sum", 60, [][]any{
		metricLine(alb, "HTTPCode_Target_2XX_Count", tg, map[string]any{"label": "2xx", "color": "#2ca02c"}),
		metricLine(alb, "HTTPCode_Target_4XX_Count", tg, map[string]any{"label": "4xx (app)", "color": "#ff7f0e"}),
		metricLine(alb, "HTTPCode_Target_5XX_Count", tg, map[string]any{"label": "5xx (app)", "color": "#d62728"}),
		metricLine(alb, "HTTPCode_ELB_5XX_Count", lb, map[string]any{"label": "5xx (load balancer)", "color": "#9467bd"}),
	}, nil)
	var latency [][]any
	for _, p := range []string{"p50", "p90", "p99"} {
		latency = append(latency, metricLine(alb, "TargetResponseTime", tg, map[string]any{"stat": p, "label": p}))
	}
	chart(WidgetLatency, "p99", 60, latency, map[string]any{"yAxis": map[string]any{"left": map[string]any{"label": "seconds", "showUnits": false}}})

	chart(WidgetTargets, "Maximum", 60, [][]any{
		metricLine(alb, "HealthyHostCount", tg, map[string]any{"label": "Healthy", "stat": "Minimum"}),
		metricLine(alb, "UnHealthyHostCount", tg, map[string]any{"label": "Unhealthy"}),
	}, nil)
	var tasks [][]any
	for _, svc := range s.Services {
		dims := []string{"ClusterName", s.Cluster, "ServiceName", svc}
		for _, m := range []string{"RunningTaskCount", "DesiredTaskCount", "PendingTaskCount"} {
			tasks = append(tasks, metricLine("ECS/ContainerInsights", m, dims, map[string]any{"label": svc + " " + m[:len(m)-len("TaskCount")]}))
		}
	}
	chart(WidgetTasks, "Average", 60, tasks, nil)
	capacity := [][]any{metricLine("AWS/AutoScaling", "GroupInServiceInstances", []string{"AutoScalingGroupName", s.AutoScalingGroup}, map[string]any{"label": "On-demand instances in service"})}
	for _, cp := range s.CapacityProviders {
		capacity = append(capacity, metricLine("AWS/ECS/ManagedScaling", "CapacityProviderReservation", []string{"CapacityProviderName", cp, "ClusterName", s.Cluster},
			map[string]any{"label": cp + " reservation (%)", "yAxis": "right"}))
	}
	chart(WidgetCapacity, "Average", 60, capacity, nil)

	var cpu, mem [][]any
	for _, svc := range s.Services {
		dims := []string{"ClusterName", s.Cluster, "ServiceName", svc}
		cpu = append(cpu, metricLine("AWS/ECS", "CPUUtilization", dims, map[string]any{"label": svc}))
		mem = append(mem, metricLine("AWS/ECS", "MemoryUtilization", dims, map[string]any{"label": svc}))
	}
	chart(WidgetServiceCPU, "Average", 60, cpu, nil)
	chart(WidgetServiceMem, "Average", 60, mem, nil)

	if s.Database != "" {
		newRow()
		db := []string{"DBInstanceIdentifier", s.Database}
		chart(WidgetDatabaseLoad, "Average", 300, [][]any{
			metricLine("AWS/RDS", "CPUUtilization", db, map[string]any{"label": "CPU (%)"}),
			metricLine("AWS/RDS", "DatabaseConnections", db, map[string]any{"label": "Connections", "stat": "Maximum", "yAxis": "right"}),
		}, nil)
		chart(WidgetDatabase, "Minimum", 300, [][]any{
			metricLine("AWS/RDS", "FreeStorageSpace", db, map[string]any{"label": "Free storage"}),
			metricLine("AWS/RDS", "FreeableMemory", db, map[string]any{"label": "Freeable memory"}),
		}, nil)
	}
	if len(s.CacheNodes) > 0 {
		newRow()
		var load, evictions [][]any
		for _, node := range slices.Sorted(slices.Values(s.CacheNodes)) {
			dims := []string{"CacheClusterId", node}
			load = append(load,
				metricLine("AWS/ElastiCache", "EngineCPUUtilization", dims, map[string]any{"label": node + " engine CPU (%)"}),
				metricLine("AWS/ElastiCache", "DatabaseMemoryUsagePercentage", dims, map[string]any{"label": node + " memory (%)"}))
			evictions = append(evictions, metricLine("AWS/ElastiCache", "Evictions", dims, map[string]any{"label": node}))
		}
		chart(WidgetCache, "Maximum", 300, load, nil)
		chart(WidgetCacheEvict, "Sum", 300, evictions, nil)
	}
	if len(s.StateMachines) > 0 {
		newRow()
		var runs [][]any
		for _, job := range slices.Sorted(maps.Keys(s.StateMachines)) {
			dims := []string{"StateMachineArn", s.StateMachines[job]}
			runs = append(runs,
				metricLine("AWS/States", "ExecutionsSucceeded", dims, map[string]any{"label": job + " succeeded", "color": "#2ca02c"}),
				metricLine("AWS/States", "ExecutionsFailed", dims, map[string]any{"label": job + " failed", "color": "#d62728"}),
				metricLine("AWS/States", "ExecutionsTimedOut", dims, map[string]any{"label": job + " timed out", "color": "#9467bd"}))
		}
		if s.DeadLetterQueue != "" {
			runs = append(runs, metricLine("AWS/SQS", "ApproximateNumberOfMessagesVisible", []string{"QueueName", s.DeadLetterQueue},
				map[string]any{"label": "Runs that never started (dead-letter queue)", "stat": "Maximum", "yAxis": "right"}))
		}
		chart(WidgetJobs, "Sum", 3600, runs, nil)
	}
	// Labels and titles are the stack's own text: sent as written, not HTML-escaped.
	body, err := literalJSON(map[string]any{"widgets": widgets})
	if err != nil {
		return "", fmt.Errorf("dashboard body: %w", err)
	}
	return body, nil
}

// ConsoleURL is the AWS console's address for a region in a partition.
func ConsoleURL(partition, region string) string {
	switch partition {
	case "aws-cn":
		return "https://console.amazonaws.cn"
	case "aws-us-gov":
		return "https://console.amazonaws-us-gov.com"
	}
	return "https://" + region + ".console.aws.amazon.com"
}

// DashboardURL is the console link to a dashboard.
func DashboardURL(partition, region, name string) string {
	return fmt.Sprintf("%s/cloudwatch/home?region=%s#dashboards/dashboard/%s", ConsoleURL(partition, region), region, name)
}
